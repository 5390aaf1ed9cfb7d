package io.bucketdisk.engine.cache;

import io.bucketdisk.store.ChunkStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * One volume's small random reads: a read of a few KiB that no sequential stream follows fetches only the aligned
 * {@link #GRANULE 64 KiB} granules around it (the store's checksum granules), with one ranged GET of the chunk object,
 * instead of the whole chunk, and keeps them in the {@link ChunkCache}'s Caffeine cache beside whole chunks. Larger
 * reads, and reads of a sequential stream, load whole chunks ({@link ChunkLoads}), so read-ahead works as before.
 *
 * <p><b>Consistency.</b> The reader takes the chunk's stripe stamp and sees it clean before it looks here; a granule
 * enters the cache only through {@link DirtyChunks#whileClean} with the stamp taken before its GET, and the transition
 * that makes a chunk dirty drops all of its granules. So a held granule always matches the store; a fetch that raced
 * a write still answers its own reader (the write was concurrent with the read) but is not kept.
 *
 * <p>No dedup and no load slot: each fetch is at most {@link #MAX_SPAN} bytes, and random readers rarely share one.
 * Thread safe.
 */
final class FragmentReads {
  /** The read granularity, what a lone 4 KiB read fetches: the store's checksum granule. */
  static final int GRANULE = ChunkStore.GRANULE;
  /** Reads whose aligned span is larger load the whole chunk. */
  static final int MAX_SPAN = 4 * GRANULE;

  private final ChunkOwner volume;
  private final StoredChunks store;
  private final ChunkCache shared;
  private final DirtyChunks dirty;
  private final int chunkSize;

  FragmentReads(ChunkOwner volume, StoredChunks store, ChunkCache shared, DirtyChunks dirty) {
    this.volume = volume;
    this.store = store;
    this.shared = shared;
    this.dirty = dirty;
    this.chunkSize = store.chunkSize();
  }

  /** Granules per chunk of {@code chunkSize} (0 when chunks are not larger than a few granules: no fragments). */
  static int granules(int chunkSize) {
    return chunkSize > MAX_SPAN ? chunkSize / GRANULE : 0;
  }

  /** Whether a read of {@code [off, off + n)} in a chunk is small enough to fetch as granules. */
  boolean fits(int off, int n) {
    return granules(chunkSize) > 0 && end(off, n) - start(off) <= MAX_SPAN;
  }

  /** Copies {@code [off, off + n)} into {@code dst} if every granule of it is held; whether it did. */
  boolean copyIfHeld(long index, int off, int n, ByteBuffer dst) {
    int first = off / GRANULE;
    int last = (off + n - 1) / GRANULE;
    byte[][] held = new byte[last - first + 1][];
    for (int g = first; g <= last; g++) {
      byte[] b = shared.fragment(new FragmentKey(volume, index, g));
      if (b == null) {
        return false;
      }
      held[g - first] = b;
    }
    copy(held, first, off, n, dst);
    return true;
  }

  /** Copies {@code [off, off + n)} out of granules {@code held}, the first of which is granule {@code first}. */
  private static void copy(byte[][] held, int first, int off, int n, ByteBuffer dst) {
    int pos = off;
    int end = off + n;
    for (int g = first; g < first + held.length; g++) {
      int from = pos - g * GRANULE;
      int len = Math.min(end, (g + 1) * GRANULE) - pos;
      dst.put(held[g - first], from, len);
      pos += len;
    }
  }

  /**
   * Copies {@code [off, off + n)} into {@code dst} if the disk tier holds every granule of it, and keeps those
   * granules in RAM if the chunk did not change since {@code stamp}; whether it did (else {@code dst} is untouched).
   */
  boolean copyFromDisk(long index, int off, int n, long stamp, ByteBuffer dst) {
    if (shared.disk().isEmpty()) {
      return false;
    }
    int first = off / GRANULE;
    int last = (off + n - 1) / GRANULE;
    byte[][] held = new byte[last - first + 1][];
    for (int g = first; g <= last; g++) {
      byte[] b = new byte[Math.min(GRANULE, chunkSize - g * GRANULE)];
      if (!shared.diskRead(volume, index, g, ByteBuffer.wrap(b))) {
        return false;
      }
      held[g - first] = b;
    }
    copy(held, first, off, n, dst);
    dirty.whileClean(index, stamp, () -> {
      for (int g = first; g <= last; g++) {
        shared.admitFragment(new FragmentKey(volume, index, g), held[g - first]);
      }
    });
    return true;
  }

  /**
   * Fetches the granules of {@code [off, off + n)} of stored chunk {@code index} with one ranged GET and copies the
   * piece into {@code dst}; keeps the granules if the chunk did not change since {@code stamp}. False, leaving {@code
   * dst} untouched, when the chunk is not stored (it reads as zeros).
   */
  boolean fetch(long index, int off, int n, long stamp, ByteBuffer dst) throws IOException {
    int start = start(off);
    int end = end(off, n);
    byte[] span = new byte[end - start];
    boolean stored;
    stored = store.readRange(index, start, ByteBuffer.wrap(span));
    if (!stored) {
      return false;
    }
    dst.put(span, off - start, n);
    dirty.whileClean(index, stamp, () -> {
      for (int at = start; at < end; at += GRANULE) {
        byte[] granule = span.length == GRANULE ? span : Arrays.copyOfRange(span, at - start, at - start + GRANULE);
        shared.admitFragment(new FragmentKey(volume, index, at / GRANULE), granule);
      }
    });
    return true;
  }

  private static int start(int off) {
    return off / GRANULE * GRANULE;
  }

  private int end(int off, int n) {
    return Math.min(chunkSize, (off + n + GRANULE - 1) / GRANULE * GRANULE);
  }
}
