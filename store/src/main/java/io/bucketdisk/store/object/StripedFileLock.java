package io.bucketdisk.store.object;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The striped lock of a {@link DirectoryObjectStore} over its keys, held across processes: stripe {@code s} is a JVM
 * lock plus a POSIX byte-range lock on byte {@code s} of the lock file, taken in that order, so two processes sharing
 * the directory cannot both win a conditional write. Thread safe. {@link #lock} throws the {@link IOException} of the
 * lock file and then holds nothing; {@link #close()} closes the lock file, after which {@link #lock} fails.
 */
final class StripedFileLock implements AutoCloseable {
  private static final int STRIPES = 64;

  private final Path file;
  private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];
  private volatile FileChannel channel;
  private volatile boolean closed;

  /** Opens (creating if needed) the lock file {@code file}. */
  StripedFileLock(Path file) throws IOException {
    this.file = file;
    for (int i = 0; i < STRIPES; i++) {
      stripes[i] = new ReentrantLock();
    }
    channel = open();
  }

  /**
   * Takes the stripe of {@code key}: the JVM lock, then the byte-range lock in the lock file. An interrupt closes the
   * (interruptible) lock channel of every thread, so a closed channel is reopened once and the lock retried.
   */
  Held lock(String key) throws IOException {
    int stripe = Math.floorMod(key.hashCode(), STRIPES);
    ReentrantLock jvm = stripes[stripe];
    jvm.lock();
    try {
      for (int attempt = 0; ; attempt++) {
        FileChannel ch = channel;
        try {
          return new Held(ch.lock(stripe, 1, false), jvm);
        } catch (ClosedChannelException e) {
          if (attempt > 0 || Thread.currentThread().isInterrupted() || closed) {
            throw e;
          }
          synchronized (this) {
            if (channel == ch && !closed) {
              channel = open();
            }
          }
        }
      }
    } catch (Throwable e) {
      jvm.unlock();
      throw e;
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      channel.close();
    } catch (IOException e) {
      // nothing left to release
    }
  }

  private FileChannel open() throws IOException {
    return FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
  }

  /**
   * A held stripe; closing releases the byte-range lock, then the JVM lock. Releasing the byte-range lock on a channel
   * closed meanwhile is fine (closing released it).
   */
  record Held(FileLock lock, ReentrantLock jvm) implements AutoCloseable {
    @Override
    public void close() throws IOException {
      try {
        lock.release();
      } catch (ClosedChannelException e) {
        // the channel was closed by an interrupt elsewhere; the lock went with it
      } finally {
        jvm.unlock();
      }
    }
  }
}
