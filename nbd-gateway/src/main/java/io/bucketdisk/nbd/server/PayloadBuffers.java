package io.bucketdisk.nbd.server;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Direct buffers for request and reply payloads, in power-of-two size classes from 4 KiB to 32 MiB, reused so the
 * data path makes no garbage. Thread safe. A leased buffer belongs to the lessee until {@link #release}; the
 * pool keeps at most a bounded number of idle bytes per class and lets the rest go to the collector.
 */
public final class PayloadBuffers {
  private static final int MIN_SHIFT = 12;
  private static final int MAX_SHIFT = 25;
  private static final long IDLE_BYTES_PER_CLASS = 64L << 20;

  private final ConcurrentLinkedQueue<ByteBuffer>[] idle;
  private final AtomicInteger[] idleCount;
  private final AtomicLong leased = new AtomicLong();

  @SuppressWarnings("unchecked")
  public PayloadBuffers() {
    int classes = MAX_SHIFT - MIN_SHIFT + 1;
    idle = (ConcurrentLinkedQueue<ByteBuffer>[]) new ConcurrentLinkedQueue<?>[classes];
    idleCount = new AtomicInteger[classes];
    for (int i = 0; i < classes; i++) {
      idle[i] = new ConcurrentLinkedQueue<>();
      idleCount[i] = new AtomicInteger();
    }
  }

  /** The largest lease. */
  public static int maxLease() {
    return 1 << MAX_SHIFT;
  }

  /** Leases a buffer with position 0 and limit {@code length} (at most {@link #maxLease()}). */
  public ByteBuffer acquire(int length) {
    if (length > maxLease() || length < 0) {
      throw new IllegalArgumentException("lease of " + length + " bytes");
    }
    int cls = sizeClass(length);
    ByteBuffer b = idle[cls].poll();
    if (b != null) {
      idleCount[cls].decrementAndGet();
    } else {
      b = ByteBuffer.allocateDirect(1 << (cls + MIN_SHIFT));
    }
    leased.incrementAndGet();
    return b.clear().limit(length);
  }

  /** Returns a leased buffer; the caller must not touch it afterwards. */
  public void release(ByteBuffer b) {
    leased.decrementAndGet();
    int cls = Integer.numberOfTrailingZeros(b.capacity()) - MIN_SHIFT;
    if (cls < 0 || cls >= idle.length || Integer.bitCount(b.capacity()) != 1) {
      return;
    }
    if ((long) idleCount[cls].get() * b.capacity() < IDLE_BYTES_PER_CLASS) {
      idleCount[cls].incrementAndGet();
      idle[cls].offer(b);
    }
  }

  /** Buffers leased and not yet released (zero when nothing leaks). */
  public long leased() {
    return leased.get();
  }

  private static int sizeClass(int length) {
    int shift = length <= 1 << MIN_SHIFT ? MIN_SHIFT : 32 - Integer.numberOfLeadingZeros(length - 1);
    return shift - MIN_SHIFT;
  }
}
