package io.bucketdisk.engine.cache;

import java.util.Arrays;
import java.util.function.LongConsumer;

/**
 * The sequential read streams of one volume, so that read-ahead follows several readers at once ({@code nbdcopy -C 4}
 * reads four places of a volume in parallel).
 *
 * <p><b>Rule.</b> Up to {@link #STREAMS} streams, each remembering the last chunk it read. A read of chunks {@code
 * [first, last]} continues the stream whose last chunk is within one chunk of {@code first} (requests in flight
 * together arrive in any order), or replaces the least recently used stream. A stream continued twice is sequential:
 * once it is, each time it reaches a new chunk (and the first time) it asks for the {@code ahead} chunks after its
 * last one to be prefetched. Twice, not once: random reads over a small volume land next to a stream's last chunk
 * often enough that one continuation would start read-ahead for them (measured: 3 MiB fetched per 4 KiB read).
 *
 * <p>Thread safe: one monitor, held only for the bookkeeping, never while prefetching.
 */
final class ReadAheadStreams {
  static final int STREAMS = 8;

  private final int ahead;
  private final long[] last = new long[STREAMS];
  private final int[] run = new int[STREAMS];
  private final long[] used = new long[STREAMS];
  private long tick;

  /** Streams that prefetch {@code ahead} chunks; 0 turns read-ahead off. */
  ReadAheadStreams(int ahead) {
    this.ahead = ahead;
    Arrays.fill(last, -2);
  }

  /**
   * Records a read of chunks {@code [first, lastRead]}; calls {@code prefetch} for each chunk to load ahead. Whether
   * the read belongs to a sequential stream (with read-ahead off: whether it would).
   */
  boolean noteRead(long first, long lastRead, LongConsumer prefetch) {
    boolean sequential;
    boolean advanced;
    long end;
    synchronized (this) {
      int slot = -1;
      int lru = 0;
      for (int i = 0; i < STREAMS; i++) {
        if (first >= last[i] - 1 && first <= last[i] + 1) {
          slot = i;
          break;
        }
        if (used[i] < used[lru]) {
          lru = i;
        }
      }
      if (slot < 0) {
        slot = lru;
        run[slot] = 0;
        last[slot] = lastRead;
        advanced = false;
      } else {
        run[slot]++;
        advanced = run[slot] >= 2 && (lastRead > last[slot] || run[slot] == 2);
        last[slot] = Math.max(last[slot], lastRead);
      }
      sequential = run[slot] >= 2;
      used[slot] = ++tick;
      end = last[slot];
    }
    if (advanced && ahead > 0) {
      for (long i = end + 1; i <= end + ahead; i++) {
        prefetch.accept(i);
      }
    }
    return sequential;
  }
}
