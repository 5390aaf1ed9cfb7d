package io.bucketdisk.app;

import io.bucketdisk.store.LeaseOwner;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one gateway process of a run directory (where its control socket lives): an exclusive lock on {@code
 * gateway.lock} there, held for the life of the process, that records the lease owner id of its holder. Taking the
 * lock proves the previous holder is gone (the kernel drops the lock of a dead process), so its leases are taken over
 * at once and a restarted gateway does not stall the node's I/O for a lease period. A second process on the same
 * directory is refused at start.
 */
final class InstanceLock {
  private static final Logger log = LoggerFactory.getLogger(InstanceLock.class);
  static final String FILE = "gateway.lock";
  /** Locks live as long as the process: an unreachable channel would be closed by its cleaner, dropping the lock. */
  private static final java.util.List<InstanceLock> HELD = new java.util.concurrent.CopyOnWriteArrayList<>();

  private final FileChannel channel; // held open: closing it would drop the lock
  private final FileLock lock;
  private final LeaseOwner owner;

  private InstanceLock(FileChannel channel, FileLock lock, LeaseOwner owner) {
    this.channel = channel;
    this.lock = lock;
    this.owner = owner;
  }

  /**
   * Locks {@code dir/gateway.lock} for a new process on {@code node} whose control API is {@code address}; a
   * {@link UserError} naming the holder when another live process has it.
   */
  static InstanceLock acquire(Path dir, String node, String address) {
    Path file = dir.resolve(FILE);
    try {
      Files.createDirectories(dir);
      FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
          StandardOpenOption.WRITE);
      FileLock lock = ch.tryLock();
      String previous = read(ch);
      if (lock == null) {
        ch.close();
        throw new UserError(file + " is held by a running gateway (" + (previous.isEmpty() ? "starting" : previous)
            + "): one gateway per node; stop that one, or give this one another --control unix:// directory");
      }
      LeaseOwner owner = LeaseOwner.instance(node, address, previous.isEmpty() ? Set.of() : Set.of(previous));
      ch.truncate(0);
      ch.write(ByteBuffer.wrap(owner.id().getBytes(StandardCharsets.UTF_8)), 0);
      ch.force(true);
      if (!previous.isEmpty()) {
        log.info("gateway {} replaces {} (gone; its leases are taken over at once)", owner.id(), previous);
      }
      InstanceLock held = new InstanceLock(ch, lock, owner);
      HELD.add(held);
      return held;
    } catch (IOException e) {
      throw new UserError(file + ": cannot lock it (" + e.getMessage() + "): the gateway's run directory must be "
          + "writable");
    }
  }

  private static String read(FileChannel ch) throws IOException {
    ByteBuffer b = ByteBuffer.allocate((int) Math.min(ch.size(), 512));
    ch.read(b, 0);
    return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).strip();
  }

  /** This process's lease owner: {@code node#nonce}, replacing the previous holder of the lock. */
  LeaseOwner owner() {
    return owner;
  }

  @Override
  public String toString() {
    return owner.id() + (lock.isValid() && channel.isOpen() ? " (locked)" : " (lost)");
  }
}
