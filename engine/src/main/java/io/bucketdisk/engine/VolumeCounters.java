package io.bucketdisk.engine;

/**
 * What a {@link Volume} has done so far, for the metrics exporter: store requests by type and their failures, bytes
 * moved, cache hits and misses. Every value is monotonic. Thread safe.
 */
public interface VolumeCounters {
  /** Whole-chunk GETs. */
  long gets();

  /** Ranged GETs (filling partly written chunks). */
  long rangeGets();

  /** PUTs acknowledged: chunks and log segments. */
  long puts();

  /** Chunks deleted (objects removed or tombstones written by the store). */
  long deletes();

  /** Batched delete calls to the store. */
  long deleteRequests();

  /** Store calls that failed after the store's retries. */
  long failures();

  long bytesUp();

  long bytesDown();

  /** Reads served from memory. */
  long hits();

  /** Reads that needed the store (or joined a load in flight). */
  long misses();

  /** Chunk loads started by read-ahead or CACHE. */
  long readAheads();

  /** FLUSH calls (including FUA). */
  long flushes();

  /** Log segment PUTs acknowledged (part of {@link #puts}). */
  default long logPuts() {
    return 0;
  }
}
