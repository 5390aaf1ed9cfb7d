package io.bucketdisk.engine.cache;

import io.bucketdisk.engine.ExtentMap;
import io.bucketdisk.engine.ExtentSink;
import io.bucketdisk.store.ChunkStore;

/**
 * BLOCK_STATUS of one volume, chunk by chunk, from what its parts already know (nothing is read): {@code
 * base:allocation} from the dirty set, the cache and the store's index; {@code bucketdisk:dirty} from the dirty set;
 * {@code bucketdisk:allocation-depth} from the dirty set, the log index and the store's layers. Neighbouring chunks
 * with equal flags merge into one extent. Thread safe as the parts it asks are.
 */
final class BlockStatus {
  private final DirtyChunks dirty;
  private final ChunkLoads loads;
  private final StoredChunks stored;
  private final LogIndex logIndex;
  private final ChunkStore store;
  private final int chunkShift;

  BlockStatus(DirtyChunks dirty, ChunkLoads loads, StoredChunks stored, LogIndex logIndex, ChunkStore store,
      int chunkShift) {
    this.dirty = dirty;
    this.loads = loads;
    this.stored = stored;
    this.logIndex = logIndex;
    this.store = store;
    this.chunkShift = chunkShift;
  }

  /**
   * Emits the extents of {@code map} for {@code [offset, offset + length)}, clipped to a volume of {@code size} bytes;
   * stops when {@code sink} declines or after one extent with {@code one}.
   */
  void report(ExtentMap map, long offset, long length, long size, boolean one, ExtentSink sink) {
    ChunkFlags flags = switch (map) {
      case ALLOCATION -> this::allocation;
      case DIRTY -> index -> dirty.notDurable(index) ? ExtentMap.DIRTY_FLAG : 0;
      case DEPTH -> this::depth;
    };
    extents(offset, length, size, one, flags, sink);
  }

  /** {@code base:allocation} flags of chunk {@code index}, without reading data. */
  private int allocation(long index) {
    return switch (dirty.state(index)) {
      case ZEROED -> ExtentMap.HOLE | ExtentMap.ZERO;
      case DATA -> 0;
      case CLEAN -> loads.cached(index) || stored.isStored(index) ? 0 : ExtentMap.HOLE | ExtentMap.ZERO;
    };
  }

  /** The layer chunk {@code index} reads from: 0 zeros, 1 this volume, 2 its parent, ... */
  private int depth(long index) {
    return switch (dirty.state(index)) {
      case ZEROED -> 0;
      case DATA -> 1;
      case CLEAN -> logIndex.has(index) ? 1 : store.depth(index);
    };
  }

  /** Chunk-granular flags for block status. */
  @FunctionalInterface
  private interface ChunkFlags {
    int flags(long index);
  }

  /**
   * Emits extents for {@code [offset, offset + length)} (clipped to the volume), merging neighbouring chunks with
   * equal flags; stops when {@code sink} declines or after one extent with {@code one}.
   */
  private void extents(long offset, long length, long size, boolean one, ChunkFlags flags, ExtentSink sink) {
    long end = Math.min(offset + length, size);
    long pos = offset;
    if (pos >= end) {
      sink.extent(length, 0);
      return;
    }
    long runStart = pos;
    int runFlags = flags.flags(pos >>> chunkShift);
    pos = ((pos >>> chunkShift) + 1) << chunkShift;
    while (pos < end) {
      int f = flags.flags(pos >>> chunkShift);
      if (f != runFlags) {
        if (!sink.extent(pos - runStart, runFlags) || one) {
          return;
        }
        runStart = pos;
        runFlags = f;
      }
      pos += 1L << chunkShift;
    }
    sink.extent(end - runStart, runFlags);
  }
}
