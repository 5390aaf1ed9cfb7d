package io.bucketdisk.engine.cache;

import java.io.IOException;
import java.io.InterruptedIOException;
import org.jspecify.annotations.Nullable;

/**
 * What one volume's dirty chunks hold of the gateway's {@link DirtyLimiter}: the bytes each writer has reserved and
 * not charged to a buffer yet (its {@link Reservation}), and the moves of bytes between the limiter, a reservation and
 * a dirty buffer's {@code charge}. A writer {@link Reservation#cover covers} the bytes a write needs before it takes
 * a buffer's monitor (nobody waits for dirty space while holding one), {@link Reservation#charge charges} what it uses
 * to the buffer under that monitor, and gives the rest back when its reservation closes. A buffer's charge goes back
 * with {@link #discharge} when it leaves the dirty set or becomes a zero tombstone, so a dirty buffer's charge is what
 * its {@link ChunkBytes} hold ({@link #mismatch} checks that). Thread safe; a reservation is one writer's.
 */
final class DirtyCharges {
  private final DirtyLimiter limiter;
  private final CacheConfig config;
  private final String volumeId;

  DirtyCharges(ChunkCache shared, String volumeId) {
    this.limiter = shared.limiter();
    this.config = shared.config();
    this.volumeId = volumeId;
  }

  /** A new reservation of nothing, for one write. */
  Reservation reservation() {
    return new Reservation();
  }

  /** Gives back the charge of {@code b}; caller holds its monitor. */
  void discharge(ChunkBuffer b) {
    if (b.charge > 0) {
      limiter.release(b.charge);
      b.charge = 0;
    }
  }

  /** Null when the charge of dirty buffer {@code b} is what its bytes hold, else what is wrong; caller holds its monitor. */
  static @Nullable String mismatch(ChunkBuffer b) {
    long want = b.data == null ? 0 : b.data.charge();
    return b.charge == want ? null : "charge mismatch: " + b + " charge=" + b.charge + ", its bytes hold " + want;
  }

  /** The bytes of the limiter one write holds and has not charged to a buffer yet; given back when it closes. */
  final class Reservation implements AutoCloseable {
    private long held;

    /** Whether this holds at least {@code bytes}. */
    boolean holds(long bytes) {
      return held >= bytes;
    }

    /**
     * Makes this hold at least {@code bytes}, waiting for dirty space up to the write timeout; never called while
     * holding a buffer monitor.
     */
    void cover(long bytes) throws IOException {
      if (held >= bytes) {
        return;
      }
      try {
        if (!limiter.acquire(bytes - held, config.writeTimeout().toNanos())) {
          throw new IOException("volume " + volumeId + ": no dirty space within " + config.writeTimeout()
              + " (uploads are failing or too slow)");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted waiting for dirty space");
      }
      held = bytes;
    }

    /** Moves {@code bytes} of this into the charge of {@code b}; caller holds its monitor. */
    void charge(ChunkBuffer b, long bytes) {
      b.charge += bytes;
      held -= bytes;
    }

    /** Gives back what was not charged. */
    @Override
    public void close() {
      if (held > 0) {
        limiter.release(held);
        held = 0;
      }
    }
  }
}
