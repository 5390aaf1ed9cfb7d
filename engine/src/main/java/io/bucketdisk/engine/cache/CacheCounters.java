package io.bucketdisk.engine.cache;

import io.bucketdisk.engine.VolumeCounters;
import java.util.concurrent.atomic.LongAdder;

/**
 * The cache's {@link VolumeCounters}: one adder per counter, incremented by the parts of a {@link VolumeCache} as
 * they call the store. Thread safe. Dirty bytes and the oldest dirty age are not counters; they are read live from
 * {@link VolumeCache}.
 */
final class CacheCounters implements VolumeCounters {
  private final LongAdder gets = new LongAdder();
  private final LongAdder rangeGets = new LongAdder();
  private final LongAdder puts = new LongAdder();
  private final LongAdder deletes = new LongAdder();
  private final LongAdder deleteRequests = new LongAdder();
  private final LongAdder failures = new LongAdder();
  private final LongAdder bytesUp = new LongAdder();
  private final LongAdder bytesDown = new LongAdder();
  private final LongAdder hits = new LongAdder();
  private final LongAdder misses = new LongAdder();
  private final LongAdder readAheads = new LongAdder();
  private final LongAdder flushes = new LongAdder();
  private final LongAdder logPuts = new LongAdder();
  private final LongAdder checksumMismatches = new LongAdder();
  private final LongAdder logEvictions = new LongAdder();
  private final LongAdder compactedChunks = new LongAdder();
  private final LongAdder mergedSegments = new LongAdder();

  /** A whole-chunk GET that found {@code bytes}. */
  void got(long bytes) {
    gets.increment();
    bytesDown.add(bytes);
  }

  /** A ranged GET of {@code bytes}. */
  void gotRange(long bytes) {
    rangeGets.increment();
    bytesDown.add(bytes);
  }

  /** An acknowledged PUT of {@code bytes}. */
  void put(long bytes) {
    puts.increment();
    bytesUp.add(bytes);
  }

  /** An acknowledged PUT of a log segment of {@code bytes} (also counted as a PUT). */
  void logged(long bytes) {
    put(bytes);
    logPuts.increment();
  }

  /** A logged extent read back failed its CRC32C. */
  void checksumFailed() {
    checksumMismatches.increment();
    failures.increment();
  }

  /** A logged dirty chunk left memory. */
  void evicted() {
    logEvictions.increment();
  }

  /** An acknowledged PUT of a merged log segment of {@code bytes} (also counted as a PUT). */
  void merged(long bytes) {
    put(bytes);
    mergedSegments.increment();
  }

  /** The compactor folded a chunk. */
  void compacted() {
    compactedChunks.increment();
  }

  /** One delete call for {@code chunks} chunks. */
  void deleted(int chunks) {
    deleteRequests.increment();
    deletes.add(chunks);
  }

  /** A store call that failed after the store's retries. */
  void failed() {
    failures.increment();
  }

  void hit() {
    hits.increment();
  }

  void hits(int n) {
    hits.add(n);
  }

  void miss() {
    misses.increment();
  }

  void readAheadStarted() {
    readAheads.increment();
  }

  void flushed() {
    flushes.increment();
  }

  @Override
  public long gets() {
    return gets.sum();
  }

  @Override
  public long rangeGets() {
    return rangeGets.sum();
  }

  @Override
  public long puts() {
    return puts.sum();
  }

  @Override
  public long deletes() {
    return deletes.sum();
  }

  @Override
  public long deleteRequests() {
    return deleteRequests.sum();
  }

  @Override
  public long failures() {
    return failures.sum();
  }

  @Override
  public long bytesUp() {
    return bytesUp.sum();
  }

  @Override
  public long bytesDown() {
    return bytesDown.sum();
  }

  @Override
  public long hits() {
    return hits.sum();
  }

  @Override
  public long misses() {
    return misses.sum();
  }

  @Override
  public long readAheads() {
    return readAheads.sum();
  }

  @Override
  public long logPuts() {
    return logPuts.sum();
  }

  @Override
  public long flushes() {
    return flushes.sum();
  }

  @Override
  public long checksumMismatches() {
    return checksumMismatches.sum();
  }

  @Override
  public long logEvictions() {
    return logEvictions.sum();
  }

  @Override
  public long compactedChunks() {
    return compactedChunks.sum();
  }

  /** Merged log segments stored ({@link LogMerger}). */
  public long mergedSegments() {
    return mergedSegments.sum();
  }
}
