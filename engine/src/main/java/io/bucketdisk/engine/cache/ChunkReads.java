package io.bucketdisk.engine.cache;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * One volume's read path: an NBD READ split into chunk pieces, each served from the first place that holds it, in
 * this order: a dirty buffer that covers it, a clean chunk of the {@link ChunkCache}, granules held in RAM, the store
 * (absent: zeros), granules on the disk tier, then a fetch: the granules around a small random read
 * ({@link FragmentReads}), or the whole chunk ({@link ChunkLoads}) for larger reads and sequential streams, which
 * also read ahead ({@link ReadAheadStreams}, whose state this class owns).
 *
 * <p><b>Consistency.</b> Each piece takes its chunk's stripe stamp before it looks anywhere; a dirty buffer is read
 * under its monitor, a clean one through {@link ChunkBuffer#copyIfLive} (it may be evicted and its array reused
 * meanwhile); a piece that loses a race with a transition looks again, at most {@link DirtyChunks#MAX_ATTEMPTS}
 * times, then fails with an I/O error.
 *
 * <p>Thread safe.
 */
final class ChunkReads {
  private final ChunkOwner owner;
  private final String volumeId;
  private final StoredChunks stored;
  private final ChunkCache shared;
  private final DirtyChunks dirty;
  private final ChunkLoads loads;
  private final FragmentReads fragments;
  private final CacheCounters counters;
  private final ReadAheadStreams streams;
  private final int chunkSize;
  private final int chunkShift;

  ChunkReads(ChunkOwner owner, StoredChunks stored, ChunkCache shared, DirtyChunks dirty, ChunkLoads loads,
      CacheCounters counters) {
    this.owner = owner;
    this.volumeId = stored.volumeId();
    this.stored = stored;
    this.shared = shared;
    this.dirty = dirty;
    this.loads = loads;
    this.counters = counters;
    this.chunkSize = stored.chunkSize();
    this.chunkShift = Integer.numberOfTrailingZeros(chunkSize);
    this.fragments = new FragmentReads(owner, stored, shared, dirty);
    this.streams = new ReadAheadStreams(shared.config().readAheadChunks(), chunkShift);
  }

  /** Fills {@code dst} with the volume's bytes at {@code offset} (the caller checked the range). */
  void read(long offset, ByteBuffer dst) throws IOException {
    long pos = offset;
    boolean sequential = streams.noteRead(offset, dst.remaining(), loads::prefetch);
    while (dst.hasRemaining()) {
      long index = pos >>> chunkShift;
      int off = (int) (pos & (chunkSize - 1));
      int n = Math.min(chunkSize - off, dst.remaining());
      readPiece(index, off, n, !sequential && fragments.fits(off, n), dst);
      pos += n;
    }
  }

  /**
   * Reads as {@link #read} does if every piece is in memory: a dirty buffer that covers it, a clean chunk, granules
   * held in RAM, or a chunk with nothing stored (zeros). As soon as one is not, answers false with {@code dst}'s
   * position as it was, having noted nothing (the caller's {@link #read} does). Takes no lock but a dirty buffer's
   * monitor for its copy, and makes no store request.
   */
  boolean readIfHeld(long offset, ByteBuffer dst) {
    int start = dst.position();
    long pos = offset;
    int pieces = 0;
    while (dst.hasRemaining()) {
      long index = pos >>> chunkShift;
      int off = (int) (pos & (chunkSize - 1));
      int n = Math.min(chunkSize - off, dst.remaining());
      if (!copyIfHeld(index, off, n, dst)) {
        dst.position(start);
        return false;
      }
      pos += n;
      pieces++;
    }
    streams.noteRead(offset, dst.position() - start, loads::prefetch);
    counters.hits(pieces);
    return true;
  }

  /** One piece from memory, in {@link #readPiece}'s order, short of the disk tier and the store; whether it was. */
  private boolean copyIfHeld(long index, int off, int n, ByteBuffer dst) {
    ChunkBuffer b = dirty.get(index);
    if (b != null) {
      return b.copyIfDirtyAndValid(off, n, dst);
    }
    ChunkBuffer c = shared.get(new ChunkKey(owner, index));
    if (c != null && c.copyIfLive(off, n, dst)) {
      return true;
    }
    if (fragments.fits(off, n) && fragments.copyIfHeld(index, off, n, dst)) {
      return true;
    }
    if (!stored.isStored(index)) {
      Zeros.fill(dst, n);
      return true;
    }
    return false;
  }

  /** NBD CACHE: loads the chunks of the range (at most the recent tier, half the clean budget) and waits. */
  void cache(long offset, long length) throws IOException {
    long first = offset >>> chunkShift;
    long last = (offset + length - 1) >>> chunkShift;
    long budget = Math.max(1, shared.recentCapacityBytes() / chunkSize);
    loads.loadAll(first, Math.min(last, first + budget - 1));
  }

  /** One chunk's piece of a read; {@code small}: a miss fetches only its granules ({@link FragmentReads}). */
  private void readPiece(long index, int off, int n, boolean small, ByteBuffer dst) throws IOException {
    for (int attempt = 0; attempt < DirtyChunks.MAX_ATTEMPTS; attempt++) {
      long stamp = dirty.stamp(index);
      ChunkBuffer b = dirty.get(index);
      if (b != null) {
        if (b.copyIfDirtyAndValid(off, n, dst)) {
          counters.hit();
          return;
        }
        if (readUnder(b, index, off, n, dst)) {
          return;
        }
        dirty.settle(index);
        continue;
      }
      ChunkBuffer c = shared.get(new ChunkKey(owner, index));
      if (c != null && c.copyIfLive(off, n, dst)) {
        counters.hit();
        return;
      }
      if (small && fragments.copyIfHeld(index, off, n, dst)) {
        counters.hit();
        return;
      }
      if (!stored.isStored(index)) {
        Zeros.fill(dst, n);
        return;
      }
      if (small && fragments.copyFromDisk(index, off, n, stamp, dst)) {
        counters.hit();
        return;
      }
      counters.miss();
      if (small) {
        if (!fragments.fetch(index, off, n, stamp, dst)) {
          Zeros.fill(dst, n);
        }
        return;
      }
      ChunkLoads.Result r = loads.load(index, stamp);
      if (r.stale()) {
        continue;
      }
      ChunkBuffer loaded = r.buffer();
      if (loaded == null) {
        Zeros.fill(dst, n);
        return;
      }
      if (loaded.copyIfLive(off, n, dst) || readStored(index, off, n, stamp, dst)) {
        return;
      }
    }
    throw new IOException("volume " + volumeId + " chunk " + index + ": read did not settle under concurrent writes: "
        + dirty.get(index));
  }

  /**
   * A piece whose load was evicted and retired before this reader copied it (a cache smaller than the loads in
   * flight): reads just the piece from the store, unless the chunk changed since {@code stamp} (then false, {@code
   * dst} untouched: look again).
   */
  private boolean readStored(long index, int off, int n, long stamp, ByteBuffer dst) throws IOException {
    ByteBuffer window = dst.slice(dst.position(), n);
    if (!stored.readRange(index, off, window.duplicate())) {
      Zeros.fill(window.duplicate(), n);
    }
    if (dirty.stamp(index) != stamp) {
      return false;
    }
    dst.position(dst.position() + n);
    return true;
  }

  /**
   * A read of a dirty chunk that no write covered in full: the stored bytes of the range with the buffer's valid
   * bytes over them. False, {@code dst} untouched, when the buffer left the dirty set meanwhile (read again).
   */
  private boolean readUnder(ChunkBuffer b, long index, int off, int n, ByteBuffer dst) throws IOException {
    counters.miss();
    ByteBuffer window = dst.slice(dst.position(), n);
    if (!stored.isStored(index) || !stored.readRange(index, off, window.duplicate())) {
      Zeros.fill(window.duplicate(), n);
    }
    synchronized (b) {
      if (!b.dirty) {
        return false;
      }
      b.overlayValid(off, window);
    }
    dst.position(dst.position() + n);
    return true;
  }
}
