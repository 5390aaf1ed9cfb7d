package io.bucketdisk.engine.cache;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Where every version of every chunk of one volume comes from, so versions never repeat across the buffers a chunk
 * has over time: a change made now is newer than every log extent and every upload of the volume so far ({@link
 * LogIndex#folded} drops extents by version). Also keeps a change's times in its buffer: when the oldest change not
 * yet durable was made, and the latest. Thread safe; {@link #change} needs the buffer's monitor.
 */
final class VersionClock {
  private final AtomicLong last = new AtomicLong();

  /** Makes every version handed out from now on higher than {@code floor} (the versions of an adopted log). */
  void above(long floor) {
    last.accumulateAndGet(floor, Math::max);
  }

  /** The highest version handed out so far. */
  long last() {
    return last.get();
  }

  /** Records a change to dirty buffer {@code b}: a new version and its times. Caller holds its monitor. */
  void change(ChunkBuffer b) {
    long now = System.nanoTime();
    if (!b.atRisk()) {
      b.dirtySinceNanos = now; // the first change neither stored nor logged
    } else if (b.version == b.uploadVersion) {
      b.changedSinceUploadNanos = now;
    }
    b.version = last.incrementAndGet();
    b.lastChangeNanos = now;
  }
}
