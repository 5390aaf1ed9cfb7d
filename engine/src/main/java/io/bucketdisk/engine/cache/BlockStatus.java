package io.bucketdisk.engine.cache;

import io.bucketdisk.engine.ExtentMap;
import io.bucketdisk.engine.ExtentSink;
import io.bucketdisk.store.ChunkStore;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * BLOCK_STATUS of one volume from what its parts already know (nothing is read): {@code base:allocation} from the
 * dirty set, the cache, the log index and the store's index; {@code bucketdisk:dirty} from the dirty set;
 * {@code bucketdisk:allocation-depth} from the dirty set, the log index and the store's layers. Neighbouring ranges
 * with equal flags merge into one extent. Thread safe as the parts it asks are.
 *
 * <p><b>Finer than a chunk</b> where memory and the log know more than the store: a dirty chunk's valid ranges hold
 * data of this volume, and only its changes since the last log capture are at risk ({@link ChunkBuffer#held}); where
 * a chunk has no object, the log's extents say which of its ranges hold data (or zeros), and the rest reads as zeros;
 * over a chunk object every byte counts as data of the object's layer. A chunk object's own holes are not known.
 *
 * <p><b>Races.</b> A range is reported as a hole only when neither the dirty set, the log index (asked first) nor
 * the store (asked last) holds it: a fold stores the chunk object before it drops the chunk's log extents, and a
 * dirty chunk leaves memory only once its changes are in both the log index and a stored segment, so a range moving
 * between them is always seen in one. Writes that race the request may or may not be seen (as the NBD spec allows).
 */
final class BlockStatus {
  private final DirtyChunks dirty;
  private final ChunkLoads loads;
  private final LogIndex logIndex;
  private final ChunkStore store;
  private final int chunkShift;
  private final int chunkSize;

  BlockStatus(DirtyChunks dirty, ChunkLoads loads, LogIndex logIndex, ChunkStore store, int chunkShift) {
    this.dirty = dirty;
    this.loads = loads;
    this.logIndex = logIndex;
    this.store = store;
    this.chunkShift = chunkShift;
    this.chunkSize = 1 << chunkShift;
  }

  /**
   * Emits the extents of {@code map} for {@code [offset, offset + length)}, clipped to a volume of {@code size} bytes;
   * stops when {@code sink} declines or after one extent with {@code one}.
   */
  void report(ExtentMap map, long offset, long length, long size, boolean one, ExtentSink sink) {
    long end = Math.min(offset + length, size);
    if (offset >= end) {
      sink.extent(length, 0);
      return;
    }
    Runs runs = new Runs(sink, one);
    for (long pos = offset; pos < end && !runs.done; ) {
      long index = pos >>> chunkShift;
      long chunkStart = index << chunkShift;
      int from = (int) (pos - chunkStart);
      int to = (int) Math.min(chunkSize, end - chunkStart);
      switch (map) {
        case ALLOCATION -> allocation(index, from, to, runs);
        case DIRTY -> dirty(index, from, to, runs);
        case DEPTH -> depth(index, from, to, runs);
      }
      pos = chunkStart + to;
    }
    runs.finish();
  }

  /** {@code base:allocation}: hole and zero where nothing holds data, else data. */
  private void allocation(long index, int from, int to, Runs runs) {
    ChunkBuffer.@Nullable Held held = held(index);
    if (held != null && held.zeroed()) {
      runs.add(to - from, ExtentMap.HOLE | ExtentMap.ZERO);
      return;
    }
    if (held == null && loads.cached(index)) {
      runs.add(to - from, 0);
      return;
    }
    List<LogIndex.Extent> logged = logIndex.overlapping(index, from, to);
    int rest = store.isStored(index) ? 0 : ExtentMap.HOLE | ExtentMap.ZERO;
    paint(from, to, held == null ? NONE : held.valid(), 0, logged, 0, ExtentMap.HOLE | ExtentMap.ZERO, rest, runs);
  }

  /** {@code bucketdisk:dirty}: the ranges with changes neither a chunk object nor a stored segment holds. */
  private void dirty(long index, int from, int to, Runs runs) {
    ChunkBuffer.@Nullable Held held = held(index);
    paint(from, to, held == null ? NONE : held.atRisk(), ExtentMap.DIRTY_FLAG, List.of(), 0, 0, 0, runs);
  }

  /** {@code bucketdisk:allocation-depth}: 0 zeros, 1 this volume (memory, log or object), 2 its parent, ... */
  private void depth(long index, int from, int to, Runs runs) {
    ChunkBuffer.@Nullable Held held = held(index);
    if (held != null && held.zeroed()) {
      runs.add(to - from, 0);
      return;
    }
    List<LogIndex.Extent> logged = logIndex.overlapping(index, from, to);
    paint(from, to, held == null ? NONE : held.valid(), 1, logged, 1, 0, store.depth(index), runs);
  }

  private ChunkBuffer.@Nullable Held held(long index) {
    ChunkBuffer b = dirty.get(index);
    return b == null ? null : b.held();
  }

  private static final int[] NONE = new int[0];

  /**
   * Emits the flags of {@code [from, to)} in three layers, the first that covers a byte deciding: {@code top} (sorted
   * disjoint ranges, {@code [s0, e0, s1, e1, ...]}) with {@code topFlags}; then {@code logged} (sorted, disjoint, cut
   * to the range) with {@code dataFlags}, or {@code zeroFlags} for a zeros extent; then {@code rest}.
   */
  private static void paint(int from, int to, int[] top, int topFlags, List<LogIndex.Extent> logged, int dataFlags,
      int zeroFlags, int rest, Runs runs) {
    int t = 0;
    int l = 0;
    for (int pos = from; pos < to && !runs.done; ) {
      while (t < top.length && top[t + 1] <= pos) {
        t += 2;
      }
      int next;
      int flags;
      if (t < top.length && top[t] <= pos) {
        next = Math.min(top[t + 1], to);
        flags = topFlags;
      } else {
        int topStart = t < top.length ? Math.min(top[t], to) : to;
        while (l < logged.size() && logged.get(l).end() <= pos) {
          l++;
        }
        LogIndex.Extent e = l < logged.size() ? logged.get(l) : null;
        if (e != null && e.start() <= pos) {
          next = Math.min(e.end(), topStart);
          flags = e.zero() ? zeroFlags : dataFlags;
        } else {
          next = e != null ? Math.min(e.start(), topStart) : topStart;
          flags = rest;
        }
      }
      runs.add(next - pos, flags);
      pos = next;
    }
  }

  /** Merges neighbouring ranges of equal flags into one extent for the sink. */
  private static final class Runs {
    private final ExtentSink sink;
    private final boolean one;
    private long length;
    private int flags;
    boolean done;

    Runs(ExtentSink sink, boolean one) {
      this.sink = sink;
      this.one = one;
    }

    void add(long n, int f) {
      if (length > 0 && f != flags) {
        done = !sink.extent(length, flags) || one;
        length = 0;
      }
      flags = f;
      length += n;
    }

    void finish() {
      if (!done && length > 0) {
        sink.extent(length, flags);
      }
    }
  }
}
