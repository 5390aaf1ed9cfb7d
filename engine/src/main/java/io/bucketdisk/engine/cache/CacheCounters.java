package io.bucketdisk.engine.cache;

import io.bucketdisk.engine.VolumeCounters;
import java.util.concurrent.atomic.LongAdder;

/**
 * The cache's {@link VolumeCounters}: one adder per counter, incremented by the parts of a {@link VolumeCache} as
 * they call the store. Thread safe. Dirty bytes and the oldest dirty age are not counters; they are read live from
 * {@link VolumeCache}.
 */
final class CacheCounters implements VolumeCounters {
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
  public long flushes() {
    return flushes.sum();
  }
}
