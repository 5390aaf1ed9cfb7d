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
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
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
  private static final List<FileLock> HELD = new CopyOnWriteArrayList<>();

  private InstanceLock() {}

  /**
   * Locks {@code dir/gateway.lock} for the life of this process and returns its lease owner on {@code node}, whose
   * control API is {@code address}: {@code node#nonce}, replacing the previous holder of the lock. A {@link
   * UserError} naming the holder when another live process has it.
   */
  static LeaseOwner acquire(Path dir, String node, String address) {
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
      HELD.add(lock);
      return owner;
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
}
