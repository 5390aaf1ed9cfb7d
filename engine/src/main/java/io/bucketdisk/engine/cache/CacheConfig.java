package io.bucketdisk.engine.cache;

import java.time.Duration;

/**
 * Sizing and timing of a gateway's chunk cache.
 *
 * @param cacheBytes the bound on chunk memory: clean cache + dirty chunks + upload and load buffers
 * @param dirtyBytes the dirty-byte cap (writers wait above it); part of {@code cacheBytes}
 * @param chunkSize the chunk size the buffer budget is computed for (the volumes' chunk size, default 4 MiB)
 * @param uploadParallelism concurrent chunk uploads (PUT/DELETE) per gateway
 * @param loadParallelism concurrent chunk downloads (GET) per gateway, read-ahead included
 * @param readAheadChunks chunks fetched ahead of a sequential reader
 * @param maxDirtyAge a dirty chunk older than this is uploaded without waiting for a FLUSH (the loss window)
 * @param writeTimeout how long a writer waits for dirty space before failing with EIO
 * @param flushTimeout how long a FLUSH waits for its uploads before failing with EIO
 * @param minLogChunks the write log is compacted into the chunk objects once it holds twice the bytes of the chunks
 *     it names, and at least this many chunks' worth (see {@code LogCompactor})
 */
public record CacheConfig(
    long cacheBytes,
    long dirtyBytes,
    int chunkSize,
    int uploadParallelism,
    int loadParallelism,
    int readAheadChunks,
    Duration maxDirtyAge,
    Duration writeTimeout,
    Duration flushTimeout,
    int minLogChunks) {

  public static final int DEFAULT_CHUNK_SIZE = 4 << 20;
  /** 256 MiB of 4 MiB chunks. */
  public static final int DEFAULT_MIN_LOG_CHUNKS = 64;

  /** With the default {@code minLogChunks}. */
  public CacheConfig(long cacheBytes, long dirtyBytes, int chunkSize, int uploadParallelism, int loadParallelism,
      int readAheadChunks, Duration maxDirtyAge, Duration writeTimeout, Duration flushTimeout) {
    this(cacheBytes, dirtyBytes, chunkSize, uploadParallelism, loadParallelism, readAheadChunks, maxDirtyAge,
        writeTimeout, flushTimeout, DEFAULT_MIN_LOG_CHUNKS);
  }

  public CacheConfig {
    if (minLogChunks < 1) {
      throw new IllegalArgumentException("minLogChunks must be at least 1: " + minLogChunks);
    }
    if (uploadParallelism < 1 || loadParallelism < 1 || readAheadChunks < 0) {
      throw new IllegalArgumentException("parallelism must be at least 1 and read-ahead at least 0");
    }
    if (dirtyBytes < 2L * chunkSize) {
      throw new IllegalArgumentException(
          "the dirty limit (" + dirtyBytes + " bytes) must hold at least two chunks of " + chunkSize + " bytes");
    }
    if (cleanBytes(cacheBytes, dirtyBytes, chunkSize, uploadParallelism, loadParallelism) < 0) {
      throw new IllegalArgumentException("cache size " + cacheBytes + " is too small: it must hold the dirty limit ("
          + dirtyBytes + ") plus " + (uploadParallelism + loadParallelism) + " transfer buffers of " + chunkSize
          + " bytes; raise the cache size or lower the dirty limit or parallelism");
    }
  }

  /** Defaults for a cache of {@code cacheBytes}: half of it may be dirty, 8 uploads, 8 loads, read-ahead 8. */
  public static CacheConfig ofSize(long cacheBytes) {
    int parallel = 8;
    long transfer = 2L * parallel * DEFAULT_CHUNK_SIZE;
    long dirty = Math.max(2L * DEFAULT_CHUNK_SIZE, (cacheBytes - transfer) / 2);
    return new CacheConfig(cacheBytes, dirty, DEFAULT_CHUNK_SIZE, parallel, parallel, 8, Duration.ofSeconds(3),
        Duration.ofMinutes(2), Duration.ofMinutes(2));
  }

  /** The clean-chunk budget: what remains of the cache after dirty data and transfer buffers. */
  public long cleanBytes() {
    return cleanBytes(cacheBytes, dirtyBytes, chunkSize, uploadParallelism, loadParallelism);
  }

  private static long cleanBytes(long cache, long dirty, int chunk, int uploads, int loads) {
    return cache - dirty - (long) (uploads + loads) * chunk;
  }
}
