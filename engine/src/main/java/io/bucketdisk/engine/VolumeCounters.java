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

  /** Reads of logged extents refused because an extent failed its CRC32C (each also a failed request). */
  default long checksumMismatches() {
    return 0;
  }

  /** Dirty chunks whose changes were all logged and that left memory without a chunk PUT. */
  default long logEvictions() {
    return 0;
  }

  /** Chunks folded from the log into their chunk objects by the compactor (each also a PUT or delete). */
  default long compactedChunks() {
    return 0;
  }
}
