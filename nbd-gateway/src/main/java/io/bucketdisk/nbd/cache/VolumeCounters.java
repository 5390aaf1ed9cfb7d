package io.bucketdisk.nbd.cache;

import java.util.concurrent.atomic.LongAdder;

/**
 * Per-volume counters for the metrics exporter: store requests by type and their failures, bytes moved, cache hits
 * and misses. Thread safe; monotonic except where noted. Dirty bytes and the oldest dirty age are read live from
 * {@link VolumeCache#dirtyBytes()} and {@link VolumeCache#oldestDirtyAgeNanos()}.
 */
public final class VolumeCounters {
  final LongAdder gets = new LongAdder();
  final LongAdder rangeGets = new LongAdder();
  final LongAdder puts = new LongAdder();
  final LongAdder deletes = new LongAdder();
  final LongAdder deleteRequests = new LongAdder();
  final LongAdder failures = new LongAdder();
  final LongAdder bytesUp = new LongAdder();
  final LongAdder bytesDown = new LongAdder();
  final LongAdder hits = new LongAdder();
  final LongAdder misses = new LongAdder();
  final LongAdder readAheads = new LongAdder();
  final LongAdder flushes = new LongAdder();

  /** Whole-chunk GETs. */
  public long gets() {
    return gets.sum();
  }

  /** Ranged GETs (merging partial chunks). */
  public long rangeGets() {
    return rangeGets.sum();
  }

  /** Chunk PUTs acknowledged. */
  public long puts() {
    return puts.sum();
  }

  /** Chunks deleted (objects removed or tombstones written by the store). */
  public long deletes() {
    return deletes.sum();
  }

  /** Batched delete calls to the store. */
  public long deleteRequests() {
    return deleteRequests.sum();
  }

  /** Store calls that failed after the store's retries. */
  public long failures() {
    return failures.sum();
  }

  public long bytesUp() {
    return bytesUp.sum();
  }

  public long bytesDown() {
    return bytesDown.sum();
  }

  /** Chunk reads served from memory. */
  public long hits() {
    return hits.sum();
  }

  /** Chunk reads that needed the store (or joined a load in flight). */
  public long misses() {
    return misses.sum();
  }

  /** Chunk loads started by read-ahead or CACHE. */
  public long readAheads() {
    return readAheads.sum();
  }

  /** FLUSH calls (including FUA). */
  public long flushes() {
    return flushes.sum();
  }
}
