package io.bucketdisk.engine.cache;

import java.util.Arrays;
import java.util.function.LongConsumer;

/**
 * The sequential read streams of one volume, so that read-ahead follows several readers at once ({@code nbdcopy -C 4}
 * reads four places of a volume in parallel).
 *
 * <p><b>Rule.</b> Up to {@link #STREAMS} streams, each remembering the last chunk it read and the bytes read in it. A
 * read of chunks {@code [first, last]} continues the stream whose last chunk is within one chunk of {@code first}
 * (requests in flight together arrive in any order), or replaces the least recently used stream. A stream is
 * sequential once it was continued twice and holds a quarter of a chunk of reads; once it is, each time it reaches a
 * new chunk (and the first time) it asks for the {@code ahead} chunks after its last one to be prefetched.
 *
 * <p>Why bytes as well as continuations: a chunk is a wide target. Random 4 KiB reads over a 1 GiB volume land within
 * one chunk of one of the 8 streams about one time in eleven, so continuations alone took about 5% of them for
 * sequential reads, each loading whole chunks (measured: 277 KiB fetched per 4 KiB read). A quarter of a chunk of
 * 4 KiB reads is 256 of them in one place, which random reads do not do; a real stream gets there within a few
 * requests of the sizes readers use (the kernel's 128 KiB, nbdcopy's 256 KiB).
 *
 * <p>Thread safe: one monitor, held only for the bookkeeping, never while prefetching.
 */
final class ReadAheadStreams {
  static final int STREAMS = 8;

  private final int ahead;
  private final int chunkShift;
  private final long sequentialBytes;
  private final long[] last = new long[STREAMS];
  private final int[] run = new int[STREAMS];
  private final long[] bytes = new long[STREAMS];
  private final boolean[] sequential = new boolean[STREAMS];
  private final long[] used = new long[STREAMS];
  private long tick;

  /** Streams over chunks of {@code 1 << chunkShift} bytes that prefetch {@code ahead} chunks; 0 turns it off. */
  ReadAheadStreams(int ahead, int chunkShift) {
    this.ahead = ahead;
    this.chunkShift = chunkShift;
    this.sequentialBytes = Math.max(1, (1L << chunkShift) / 4);
    Arrays.fill(last, -2);
  }

  /**
   * Records a read of {@code length} bytes at {@code offset}; calls {@code prefetch} for each chunk to load ahead.
   * Whether the read belongs to a sequential stream (with read-ahead off: whether it would).
   */
  boolean noteRead(long offset, int length, LongConsumer prefetch) {
    long first = offset >>> chunkShift;
    long lastRead = (offset + Math.max(length, 1) - 1) >>> chunkShift;
    boolean advanced;
    boolean isSequential;
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
        bytes[slot] = length;
        sequential[slot] = false;
        last[slot] = lastRead;
        advanced = false;
      } else {
        run[slot]++;
        bytes[slot] += length;
        boolean was = sequential[slot];
        sequential[slot] = run[slot] >= 2 && bytes[slot] >= sequentialBytes;
        advanced = sequential[slot] && (lastRead > last[slot] || !was);
        last[slot] = Math.max(last[slot], lastRead);
      }
      isSequential = sequential[slot];
      used[slot] = ++tick;
      end = last[slot];
    }
    if (advanced && ahead > 0) {
      for (long i = end + 1; i <= end + ahead; i++) {
        prefetch.accept(i);
      }
    }
    return isSequential;
  }
}
