package io.bucketdisk.engine.cache;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Bounds the bytes of dirty chunk data a gateway holds (backpressure). A writer that would make a chunk dirty
 * {@link #acquire}s one chunk's bytes first and waits while the cap is reached; the bytes come back with
 * {@link #release} when that chunk's upload succeeded (or it became a zero tombstone). While a writer waits, the
 * registered pressure listeners (the volumes' write-back flushers) are told to upload.
 *
 * <p>Thread safe. {@link #used()} never exceeds {@link #limit()}.
 */
public final class DirtyLimiter {
  private final long limit;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition released = lock.newCondition();
  private final List<Runnable> pressureListeners = new CopyOnWriteArrayList<>();
  /** Told (outside the lock) after every change of {@link #used()}: the clean cache grows into what is not dirty. */
  private volatile Runnable usedChanged = () -> {};
  private long used;
  private long maxUsed;
  private long waits;
  private int waiting;

  public DirtyLimiter(long limit) {
    if (limit <= 0) {
      throw new IllegalArgumentException("dirty limit must be positive: " + limit);
    }
    this.limit = limit;
  }

  public long limit() {
    return limit;
  }

  /** Dirty bytes held now. */
  public long used() {
    lock.lock();
    try {
      return used;
    } finally {
      lock.unlock();
    }
  }

  /** Highest {@link #used()} ever seen. */
  public long maxUsed() {
    lock.lock();
    try {
      return maxUsed;
    } finally {
      lock.unlock();
    }
  }

  /** How many acquires had to wait. */
  public long waits() {
    lock.lock();
    try {
      return waits;
    } finally {
      lock.unlock();
    }
  }

  /** Sets the one listener of {@link #used()} changes (the {@link ChunkCache} that lends unused dirty space). */
  void onUsedChanged(Runnable listener) {
    usedChanged = listener;
  }

  void addPressureListener(Runnable listener) {
    pressureListeners.add(listener);
  }

  void removePressureListener(Runnable listener) {
    pressureListeners.remove(listener);
  }

  /** True when more than half the limit is dirty: flushers should upload dirty chunks that are done changing. */
  boolean underPressure() {
    return used() * 2 > limit;
  }

  /** True while a writer waits for space: flushers must upload something even if every chunk is still changing. */
  boolean writersWaiting() {
    lock.lock();
    try {
      return waiting > 0;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Takes {@code bytes}, waiting up to {@code timeoutNanos} while the cap is reached. Returns false on timeout.
   */
  boolean acquire(long bytes, long timeoutNanos) throws InterruptedException {
    if (bytes > limit) {
      throw new IllegalArgumentException("request " + bytes + " exceeds the dirty limit " + limit);
    }
    long deadline = System.nanoTime() + timeoutNanos;
    boolean waited = false;
    lock.lock();
    try {
      try {
        while (used + bytes > limit) {
          if (!waited) {
            waited = true;
            waits++;
            waiting++;
          }
          lock.unlock();
          try {
            pressureListeners.forEach(Runnable::run);
          } finally {
            lock.lock();
          }
          if (used + bytes <= limit) {
            break;
          }
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return false;
          }
          released.await(Math.min(left, TimeUnit.MILLISECONDS.toNanos(200)), TimeUnit.NANOSECONDS);
        }
      } finally {
        if (waited) {
          waiting--;
        }
      }
      used += bytes;
      maxUsed = Math.max(maxUsed, used);
      boolean pressure = used * 2 > limit;
      lock.unlock();
      try {
        usedChanged.run();
        if (pressure) {
          pressureListeners.forEach(Runnable::run);
        }
      } finally {
        lock.lock();
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  void release(long bytes) {
    lock.lock();
    try {
      used -= bytes;
      if (used < 0) {
        throw new IllegalStateException("dirty limiter released more than acquired: " + used);
      }
      released.signalAll();
    } finally {
      lock.unlock();
    }
    usedChanged.run();
  }
}
