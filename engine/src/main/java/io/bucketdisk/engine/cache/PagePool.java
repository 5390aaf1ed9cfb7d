package io.bucketdisk.engine.cache;

import java.util.Arrays;

/**
 * Free {@link ChunkBytes#PAGE 4 KiB} pages of dirty chunks, gateway-wide, for the next writes. A random writer's page
 * lives from its write until its chunk is logged and leaves the dirty set, seconds later: long enough to be copied
 * into the old generation and die there, so every 4 KiB write became old garbage (2 GB in a 30 s random write, JFR).
 * Pages come back when a sparse chunk leaves the set or becomes whole ({@link ChunkBytes#release}), at most
 * {@code capacity} of them are kept, and a page handed out again reads as zeros.
 *
 * <p>What is kept is part of the launcher's fixed overhead (at most {@link #MAX_BYTES}). Thread safe.
 */
final class PagePool {
  /** The most a pool keeps: a log segment's worth of pages, freed at once when its chunks leave the set, twice. */
  static final int MAX_BYTES = 8 << 20;
  /** A pool that keeps nothing: every page is new (tests, and chunk bytes outside a cache). */
  static final PagePool NONE = new PagePool(0);

  private final byte[][] free;
  private int count;

  PagePool(int capacity) {
    this.free = new byte[capacity][];
  }

  /** A pool for a dirty cap of {@code dirtyBytes}: an eighth of it, at most {@link #MAX_BYTES}. */
  static PagePool forDirtyBytes(long dirtyBytes) {
    return new PagePool((int) (Math.min(MAX_BYTES, dirtyBytes / 8) / ChunkBytes.PAGE));
  }

  /** A page of zeros: a kept one, cleared, or a new one. */
  byte[] take() {
    byte[] p = null;
    synchronized (this) {
      if (count > 0) {
        p = free[--count];
        free[count] = null;
      }
    }
    if (p == null) {
      return new byte[ChunkBytes.PAGE];
    }
    Arrays.fill(p, (byte) 0);
    return p;
  }

  /** Keeps the non-null pages of {@code pages} while there is room, and clears their entries. */
  void give(byte[][] pages) {
    synchronized (this) {
      for (int i = 0; i < pages.length && count < free.length; i++) {
        if (pages[i] != null) {
          free[count++] = pages[i];
          pages[i] = null;
        }
      }
    }
    Arrays.fill(pages, null);
  }

  /** Pages kept now (tests). */
  synchronized int kept() {
    return count;
  }
}
