package io.bucketdisk.engine.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The gateway-wide chunk memory, shared by every open volume and bounded in bytes.
 *
 * <p><b>Budget.</b> {@link CacheConfig#cacheBytes()} = clean chunks ({@link CacheConfig#cleanBytes()}: half of it
 * for chunks loaded recently, {@link RecentChunks}, the rest a Caffeine cache with a byte weigher) + dirty chunks
 * (held outside Caffeine, capped by the {@link DirtyLimiter}) + upload scratch buffers
 * ({@link CacheConfig#uploadParallelism()} of them) + chunk loads in flight ({@link CacheConfig#loadParallelism()}).
 * Each part has its own hard bound, so {@link #residentBytes()} stays within {@code cacheBytes} (eviction runs on
 * the inserting thread, so the clean part overshoots by at most the entry being inserted, for the duration of that
 * insert).
 *
 * <p><b>Why dirty chunks are not in Caffeine.</b> Caffeine may evict any entry when over weight; a dirty chunk
 * evicted before its upload succeeded would be silent data loss. So a chunk is in exactly one of the two places:
 * Caffeine while clean, its volume's dirty map while dirty (pinned: nothing but a successful upload removes it).
 *
 * <p>Thread safe. Closing a volume removes its clean chunks.
 */
public final class ChunkCache {
  /** Caffeine key: the volume (by identity) and chunk index. */
  record Key(VolumeCache volume, long index) {}

  final CacheConfig config;
  final Cache<Key, ChunkBuffer> clean;
  final RecentChunks recent;
  final DirtyLimiter limiter;
  final Semaphore loads;
  private final ConcurrentHashMap<Integer, ScratchChunks> pools = new ConcurrentHashMap<>();
  final AtomicLong loadingBytes = new AtomicLong();

  public ChunkCache(CacheConfig config) {
    this.config = config;
    long recentBytes = config.cleanBytes() / 2 / config.chunkSize() * config.chunkSize();
    this.recent = new RecentChunks(recentBytes);
    this.clean = Caffeine.newBuilder()
        .maximumWeight(config.cleanBytes() - recentBytes)
        .weigher((Key k, ChunkBuffer b) -> b.valid.limit())
        .executor(Runnable::run)
        .build();
    this.limiter = new DirtyLimiter(config.dirtyBytes());
    this.loads = new Semaphore(config.loadParallelism(), true);
  }

  public CacheConfig config() {
    return config;
  }

  public DirtyLimiter limiter() {
    return limiter;
  }

  /** Scratch buffers of {@code chunkSize}, as many as the upload parallelism. */
  ScratchChunks pool(int chunkSize) {
    return pools.computeIfAbsent(chunkSize, s -> new ScratchChunks(s, config.uploadParallelism()));
  }

  /** Bytes of clean chunks held now (recent loads and Caffeine). */
  public long cleanBytes() {
    clean.cleanUp();
    return recent.bytes() + clean.policy().eviction().orElseThrow().weightedSize().orElse(0);
  }

  /** Clean + dirty + scratch buffers in use + loads in flight: everything this cache holds now. */
  public long residentBytes() {
    long scratch = 0;
    for (ScratchChunks p : pools.values()) {
      scratch += (long) p.inUse() * p.bufferSize();
    }
    return cleanBytes() + limiter.used() + scratch + loadingBytes.get();
  }

  void invalidate(VolumeCache volume) {
    recent.removeVolume(volume);
    clean.asMap().keySet().removeIf(k -> k.volume() == volume);
  }
}
