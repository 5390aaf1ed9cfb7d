package io.bucketdisk.engine.cache;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * The bytes of one chunk in memory: either one whole array, or sparse pages of {@link #PAGE} bytes allocated as
 * writes land (a page never written reads as zeros). A random writer that changes a few KiB of many chunks so holds
 * a few pages per chunk instead of a whole chunk each; a chunk written over more than half its pages becomes whole
 * (one array, as a sequential writer's chunk is stored and cached).
 *
 * <p>{@link #charge} is what this object holds against the dirty limit: the whole chunk, or the pages and the page
 * table. {@link #growth} tells a writer, before it writes, how much more that will be.
 *
 * <p>Not thread safe: its {@link ChunkBuffer}'s monitor guards it.
 */
final class ChunkBytes implements io.bucketdisk.store.log.LogSegment.Source {
  static final int PAGE_SHIFT = 12;
  static final int PAGE = 1 << PAGE_SHIFT;

  private final int size;
  private byte @Nullable [] whole;
  private byte @Nullable [][] pages;
  private int allocated;
  /** Set while an upload sends {@link #whole} itself ({@link #freeze}): a change goes to a copy first. */
  private boolean frozen;
  /** Where pages come from and go back to. */
  private final PagePool pool;

  private ChunkBytes(int size, byte @Nullable [] whole, PagePool pool) {
    if (size % PAGE != 0) {
      throw new IllegalArgumentException("chunk size must be a multiple of " + PAGE + ": " + size);
    }
    this.size = size;
    this.whole = whole;
    this.pages = whole == null ? new byte[size >>> PAGE_SHIFT][] : null;
    this.pool = pool;
  }

  /** A chunk of {@code size} bytes that reads as zeros and holds no pages yet. */
  static ChunkBytes sparse(int size) {
    return sparse(size, PagePool.NONE);
  }

  /** Like {@link #sparse(int)}, its pages taken from and given back to {@code pool}. */
  static ChunkBytes sparse(int size, PagePool pool) {
    return new ChunkBytes(size, null, pool);
  }

  /** The chunk whose bytes are {@code data} (not copied). */
  static ChunkBytes whole(byte[] data) {
    return new ChunkBytes(data.length, data, PagePool.NONE);
  }

  /**
   * Gives this chunk's pages back to its pool; it then reads as zeros. For a chunk that nothing reads any more (its
   * buffer left the dirty set without it, or was zeroed); a whole chunk keeps its array.
   */
  void release() {
    byte[][] p = pages;
    if (p != null && allocated > 0) {
      pool.give(p);
      allocated = 0;
    }
  }

  /** Bytes this chunk holds against the dirty limit. */
  long charge() {
    return whole != null ? size : chargeOf(allocated);
  }

  private long chargeOf(int pageCount) {
    return chargeOf(size, pageCount);
  }

  private static long chargeOf(int size, int pageCount) {
    return 16L + 4L * (size >>> PAGE_SHIFT) + (long) pageCount * PAGE;
  }

  /** The {@link #charge} of a new sparse chunk of {@code size} bytes after {@code [off, off + n)} is written. */
  static long chargeAfter(int size, int off, int n) {
    int pages = n == 0 ? 0 : ((off + n - 1) >>> PAGE_SHIFT) - (off >>> PAGE_SHIFT) + 1;
    return pages * 2L > (size >>> PAGE_SHIFT) ? size : chargeOf(size, pages);
  }

  /** How much {@link #charge} grows when {@code [off, off + n)} is written with data. */
  long growth(int off, int n) {
    if (whole != null || n == 0) {
      return 0;
    }
    int fresh = freshPages(off, n);
    if (fresh == 0) {
      return 0;
    }
    int after = allocated + fresh;
    return (after * 2L > (size >>> PAGE_SHIFT) ? size : chargeOf(after)) - charge();
  }

  private int freshPages(int off, int n) {
    byte[][] p = pages;
    int fresh = 0;
    for (int i = off >>> PAGE_SHIFT, last = (off + n - 1) >>> PAGE_SHIFT; i <= last; i++) {
      if (p[i] == null) {
        fresh++;
      }
    }
    return fresh;
  }

  boolean isWhole() {
    return whole != null;
  }

  /** Writes {@code n} bytes of {@code src} at {@code off}, allocating pages (or the whole array) as {@link #growth} said. */
  void write(int off, ByteBuffer src, int n) {
    unfreeze();
    if (whole == null && (allocated + freshPages(off, n)) * 2L > (size >>> PAGE_SHIFT)) {
      makeWhole();
    }
    byte[] w = whole;
    if (w != null) {
      src.get(w, off, n);
      return;
    }
    forEachPage(off, n, (i, in, k) -> {
      if (pages[i] == null) {
        pages[i] = pool.take();
        allocated++;
      }
      src.get(pages[i], in, k);
    });
  }

  /** Writes zeros over {@code [off, off + n)}; a page not held reads as zeros already and stays unallocated. */
  void zero(int off, int n) {
    unfreeze();
    byte[] w = whole;
    if (w != null) {
      Arrays.fill(w, off, off + n, (byte) 0);
      return;
    }
    forEachPage(off, n, (i, in, k) -> {
      if (pages[i] != null) {
        Arrays.fill(pages[i], in, in + k, (byte) 0);
      }
    });
  }

  /** Copies {@code n} bytes at {@code off} into {@code dst}. */
  void copyTo(int off, int n, ByteBuffer dst) {
    byte[] w = whole;
    if (w != null) {
      dst.put(w, off, n);
      return;
    }
    forEachPage(off, n, (i, in, k) -> {
      if (pages[i] == null) {
        Zeros.fill(dst, k);
      } else {
        dst.put(pages[i], in, k);
      }
    });
  }

  /** One page's piece of a range: page {@code page}, {@code length} bytes from {@code offset} in it. */
  @FunctionalInterface
  private interface PagePiece {
    void apply(int page, int offset, int length);
  }

  /** Calls {@code piece} for each page's piece of {@code [off, off + n)}, in order. */
  private static void forEachPage(int off, int n, PagePiece piece) {
    int pos = off;
    int end = off + n;
    while (pos < end) {
      int in = pos & (PAGE - 1);
      int k = Math.min(PAGE - in, end - pos);
      piece.apply(pos >>> PAGE_SHIFT, in, k);
      pos += k;
    }
  }

  /** Copies {@code n} bytes at {@code off} into {@code dst} at {@code dstOffset}. */
  @Override
  public void copy(int off, byte[] dst, int dstOffset, int n) {
    copyTo(off, n, ByteBuffer.wrap(dst, dstOffset, n));
  }

  /**
   * The whole array, which stays as it is until {@link #thaw}: an upload sends it without a copy. A write or zero
   * meanwhile moves this chunk to a copy of it (copy on write), and the upload's array is no longer held here.
   */
  byte[] freeze() {
    byte[] w = whole;
    if (w == null) {
      throw new IllegalStateException("only a whole chunk can be frozen");
    }
    frozen = true;
    return w;
  }

  /** Ends {@link #freeze}; false when a change moved this chunk off {@code array}, which nothing here holds now. */
  boolean thaw(byte[] array) {
    if (whole != array) {
      return false;
    }
    frozen = false;
    return true;
  }

  private void unfreeze() {
    if (frozen) {
      whole = whole.clone();
      frozen = false;
    }
  }

  /** The whole array if this chunk is one and no upload holds it ({@link #freeze}), else null. */
  byte @Nullable [] wholeUnfrozen() {
    return frozen ? null : whole;
  }

  /** The chunk as one array, made whole first if it is sparse (what a clean tier keeps). */
  byte[] array() {
    byte[] w = whole;
    return w != null ? w : makeWhole();
  }

  private byte[] makeWhole() {
    byte[] w = new byte[size];
    byte[][] p = pages;
    for (int i = 0; i < p.length; i++) {
      if (p[i] != null) {
        System.arraycopy(p[i], 0, w, i << PAGE_SHIFT, PAGE);
      }
    }
    whole = w;
    pages = null;
    allocated = 0;
    pool.give(p);
    return w;
  }

  @Override
  public String toString() {
    return whole != null ? "whole" : allocated + " pages";
  }
}
