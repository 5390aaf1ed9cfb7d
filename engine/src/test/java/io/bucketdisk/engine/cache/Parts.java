package io.bucketdisk.engine.cache;

import java.time.Duration;
import java.util.Random;
import java.util.concurrent.Executor;

/** A small cache and store for the unit tests of the cache's parts: 64 KiB chunks, 32 of them. */
final class Parts {
  static final int CHUNK = 64 * 1024;
  static final long SIZE = 32L * CHUNK;

  final MemoryChunkStore store = new MemoryChunkStore("vol", SIZE, CHUNK, false);
  final ChunkCache shared;
  final ChunkOwner owner = e -> {};
  final CacheCounters counters = new CacheCounters();
  final LogIndex logIndex = new LogIndex();
  final StoredChunks stored = new StoredChunks(store, logIndex, counters,
      new java.util.concurrent.Semaphore(SegmentReads.BUDGET));

  /**
   * 16 chunks of cache: 6 dirty, 2 upload and 2 load buffers, 6 clean (3 recent, 3 Caffeine); a 60 s age bound so
   * only what a test asks for uploads.
   */
  Parts() {
    this(Duration.ofSeconds(60));
  }

  Parts(Duration maxAge) {
    shared = new ChunkCache(new CacheConfig(16L * CHUNK, 6L * CHUNK, CHUNK, 2, 2, 4, maxAge, Duration.ofSeconds(5),
        Duration.ofSeconds(5)));
  }

  /**
   * Runs each task on a thread of its own. The common pool that {@code CompletableFuture}'s default executor uses has
   * a parallelism of one on a 2-core machine, which runs "concurrent" tasks one after the other.
   */
  static final Executor THREADS = task -> Thread.ofPlatform().daemon().start(task);

  WriteLog writeLog() {
    return new WriteLog(store, logIndex, counters, shared.segmentBuffers());
  }

  ChunkKey key(long index) {
    return new ChunkKey(owner, index);
  }

  static byte[] pattern(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }
}
