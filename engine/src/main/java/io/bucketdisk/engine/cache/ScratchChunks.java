package io.bucketdisk.engine.cache;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Semaphore;

/**
 * A fixed number of reusable chunk-sized scratch arrays (upload snapshots, store reads for merges). Taking one
 * also bounds parallelism: {@link #take} blocks while all are in use. Thread safe.
 */
final class ScratchChunks {
  private final int bufferSize;
  private final int capacity;
  private final Semaphore permits;
  private final ArrayBlockingQueue<byte[]> free;

  ScratchChunks(int bufferSize, int capacity) {
    this.bufferSize = bufferSize;
    this.capacity = capacity;
    this.permits = new Semaphore(capacity, true);
    this.free = new ArrayBlockingQueue<>(capacity);
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
    byte[] b = free.poll();
    return b != null ? b : new byte[bufferSize];
  }

  /** A buffer if one is free now, else null. */
  byte @org.jspecify.annotations.Nullable [] tryTake() {
    if (!permits.tryAcquire()) {
      return null;
    }
    byte[] b = free.poll();
    return b != null ? b : new byte[bufferSize];
  }

  void give(byte[] buffer) {
    if (buffer.length != bufferSize) {
      throw new IllegalArgumentException("foreign buffer of " + buffer.length + " bytes");
    }
    free.offer(buffer);
    permits.release();
  }
}
