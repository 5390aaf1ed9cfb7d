package io.bucketdisk.engine.cache;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Semaphore;

/**
 * A fixed number of chunk-sized scratch arrays (upload copies, compaction reads). Taking one also bounds
 * parallelism: {@link #take} blocks while all are in use. At most {@link #KEEP_FREE} given-back arrays are kept for
 * reuse; the rest go, so idle transfer space can hold clean chunks instead ({@link #held}, told to the listener on
 * every change, before an array is allocated and after one is dropped). Thread safe.
 */
final class ScratchChunks {
  private final int bufferSize;
  private final int capacity;
  private final Semaphore permits;
  static final int KEEP_FREE = 2;
  private final ArrayBlockingQueue<byte[]> free;
  private final java.util.concurrent.atomic.AtomicInteger held = new java.util.concurrent.atomic.AtomicInteger();
  private final Runnable heldChanged;

  ScratchChunks(int bufferSize, int capacity, Runnable heldChanged) {
    this.bufferSize = bufferSize;
    this.capacity = capacity;
    this.permits = new Semaphore(capacity, true);
    this.free = new ArrayBlockingQueue<>(KEEP_FREE);
    this.heldChanged = heldChanged;
  }

  /** Arrays allocated now: in use or kept for reuse. */
  int held() {
    return held.get();
  }

  int bufferSize() {
    return bufferSize;
  }

  int capacity() {
    return capacity;
  }

  /** Buffers handed out now. */
  int inUse() {
    return capacity - permits.availablePermits();
  }

  byte[] take() throws InterruptedException {
    permits.acquire();
    return pollOrAllocate();
  }

  private byte[] pollOrAllocate() {
    byte[] b = free.poll();
    if (b != null) {
      return b;
    }
    held.incrementAndGet();
    heldChanged.run();
    return new byte[bufferSize];
  }

  /**
   * Takes a permit without an array, for an upload that sends a chunk's own bytes ({@link ChunkBytes#freeze}). One
   * array is counted as held meanwhile: a write during the upload leaves the upload the only holder of its array.
   */
  void takeWithoutArray() throws InterruptedException {
    permits.acquire();
    held.incrementAndGet();
    heldChanged.run();
  }

  /**
   * Gives back a permit taken with {@link #takeWithoutArray}, with {@code orphan}, an array nobody else holds now
   * (kept for reuse if there is room), or null.
   */
  void giveWithoutArray(byte @org.jspecify.annotations.Nullable [] orphan) {
    boolean kept = orphan != null && orphan.length == bufferSize && free.offer(orphan);
    permits.release();
    if (!kept) {
      held.decrementAndGet();
      heldChanged.run();
    }
  }

  /** A buffer if one is free now, else null. */
  byte @org.jspecify.annotations.Nullable [] tryTake() {
    if (!permits.tryAcquire()) {
      return null;
    }
    return pollOrAllocate();
  }

  void give(byte[] buffer) {
    if (buffer.length != bufferSize) {
      throw new IllegalArgumentException("foreign buffer of " + buffer.length + " bytes");
    }
    boolean kept = free.offer(buffer);
    permits.release();
    if (!kept) {
      held.decrementAndGet();
      heldChanged.run();
    }
  }
}
