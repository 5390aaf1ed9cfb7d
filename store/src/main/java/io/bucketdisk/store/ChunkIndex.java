package io.bucketdisk.store;

import java.util.concurrent.atomic.AtomicLongArray;
import org.jspecify.annotations.Nullable;

/**
 * Per chunk of one open volume, where its bytes are: the volume's own newest key (epoch, tombstone, whether older own
 * keys exist below it) and, for clones, the first parent layer that has it. Built by one paged LIST per layer at
 * open and kept current by the handle's own writes and deletes, so reads of absent chunks never ask the store.
 *
 * <p>Two longs per chunk in lazily allocated pages of 4096 chunks (64 KiB per 4096 chunks actually touched, or
 * 16 GiB of volume at 4 MiB chunks). Thread safe: entries are atomic; a chunk's entry is only changed by the one
 * caller writing that chunk (the {@link ChunkStore} contract).
 */
final class ChunkIndex {
  private static final int PAGE_BITS = 12;
  private static final int PAGE = 1 << PAGE_BITS;

  /** Own entry: bits 0-31 epoch, then flags. 0 means no own key. */
  static final long PRESENT = 1L << 40;
  static final long TOMBSTONE = 1L << 41;
  static final long OLDER = 1L << 42;
  /** The newest own key is in the checksummed layout ({@link ChunkFrames}). */
  static final long FRAMED = 1L << 43;
  /**
   * Inherited entry: bits 0-31 epoch, bits 32-39 depth (0 = a tombstone hides everything below), resolved flag, and
   * whether that key is checksummed.
   */
  static final long RESOLVED = 1L << 40;
  static final long INHERITED_FRAMED = 1L << 41;

  private volatile AtomicLongArray[] own;
  private volatile AtomicLongArray[] inherited;
  private volatile long chunks;

  ChunkIndex(long chunks) {
    int pages = pages(chunks);
    this.own = new AtomicLongArray[pages];
    this.inherited = new AtomicLongArray[pages];
    this.chunks = chunks;
  }

  long chunks() {
    return chunks;
  }

  /** Grows to cover {@code newChunks} chunks (resize). */
  synchronized void grow(long newChunks) {
    if (newChunks <= chunks) {
      return;
    }
    int pages = pages(newChunks);
    own = java.util.Arrays.copyOf(own, pages);
    inherited = java.util.Arrays.copyOf(inherited, pages);
    chunks = newChunks;
  }

  long own(long index) {
    AtomicLongArray p = page(true, index, false);
    return p == null ? 0 : p.get((int) (index & (PAGE - 1)));
  }

  void setOwn(long index, long value) {
    java.util.Objects.requireNonNull(page(true, index, true)).set((int) (index & (PAGE - 1)), value);
  }

  long inherited(long index) {
    AtomicLongArray p = page(false, index, false);
    return p == null ? 0 : p.get((int) (index & (PAGE - 1)));
  }

  void setInherited(long index, long value) {
    java.util.Objects.requireNonNull(page(false, index, true)).set((int) (index & (PAGE - 1)), value);
  }

  static long ownEntry(long epoch, boolean tombstone, boolean older, boolean framed) {
    return epoch | PRESENT | (tombstone ? TOMBSTONE : 0) | (older ? OLDER : 0) | (framed ? FRAMED : 0);
  }

  static long inheritedEntry(int depth, long epoch, boolean framed) {
    return epoch | ((long) depth << 32) | RESOLVED | (framed ? INHERITED_FRAMED : 0);
  }

  static long epoch(long entry) {
    return entry & 0xffff_ffffL;
  }

  static int depth(long inheritedEntry) {
    return (int) ((inheritedEntry >>> 32) & 0xff);
  }

  static boolean has(long entry, long flag) {
    return (entry & flag) != 0;
  }

  private @Nullable AtomicLongArray page(boolean ownSide, long index, boolean create) {
    if (index < 0 || index >= chunks) {
      throw new IndexOutOfBoundsException("chunk " + index + " of " + chunks);
    }
    int pi = (int) (index >>> PAGE_BITS);
    AtomicLongArray p = (ownSide ? own : inherited)[pi];
    if (p == null && create) {
      synchronized (this) {
        AtomicLongArray[] arr = ownSide ? own : inherited;
        p = arr[pi];
        if (p == null) {
          p = new AtomicLongArray(PAGE);
          arr[pi] = p;
        }
      }
    }
    return p;
  }

  private static int pages(long chunks) {
    return Math.toIntExact((chunks + PAGE - 1) >>> PAGE_BITS);
  }
}
