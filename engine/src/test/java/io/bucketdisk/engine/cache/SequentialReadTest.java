package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Cold sequential reads of a volume several times larger than the clean cache, shaped like {@code nbdcopy -C 4}:
 * four streams over separate segments, many requests in flight each. Every chunk must be fetched once.
 */
@Timeout(120)
class SequentialReadTest {
  static final int CHUNK = 64 * 1024;
  static final int CHUNKS = 256;

  MemoryChunkStore store;
  ChunkCache cache;
  VolumeCache volume;

  void open(int readAhead) {
    store = new MemoryChunkStore("vol", (long) CHUNKS * CHUNK, CHUNK, false);
    for (long c = 0; c < CHUNKS; c++) {
      store.chunks.put(c, VolumeCacheTest.pattern(CHUNK, c));
    }
    // the proportions of bench/store-bench.sh (1 GiB volume, 512 MiB cache): clean budget 128 - 56 - 2 * 8 = 56
    // chunks, 28 of them for recent loads
    cache = new ChunkCache(new CacheConfig(128L * CHUNK, 56L * CHUNK, CHUNK, 8, 8, readAhead, Duration.ofSeconds(60),
        Duration.ofSeconds(20), Duration.ofSeconds(20)));
    volume = new VolumeCache(store, cache);
    store.readDelayMillis = 5;
  }

  @AfterEach
  void close() throws Exception {
    if (volume != null) {
      volume.close();
    }
  }

  /** Reads [first, last) chunks with {@code inFlight} requests of {@code request} bytes outstanding, in order. */
  void stream(long first, long last, int request, int inFlight, AtomicLong mismatches) throws Exception {
    Semaphore window = new Semaphore(inFlight);
    try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> fs = new ArrayList<>();
      for (long pos = first * CHUNK; pos < last * CHUNK; pos += request) {
        window.acquire();
        long at = pos;
        fs.add(ex.submit(() -> {
          try {
            ByteBuffer dst = ByteBuffer.allocate(request);
            volume.read(at, dst);
            long c = at / CHUNK;
            int off = (int) (at % CHUNK);
            if (!Arrays.equals(dst.array(), 0, request, store.chunks.get(c), off, off + request)) {
              mismatches.incrementAndGet();
            }
          } finally {
            window.release();
          }
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
    }
  }

  @Test
  void oneStreamFetchesEveryChunkOnce() throws Exception {
    open(8);
    AtomicLong bad = new AtomicLong();
    stream(0, CHUNKS, 16 * 1024, 16, bad);
    assertThat(bad.get()).isZero();
    assertThat(store.reads.get()).as("GETs for %d chunks", CHUNKS).isLessThanOrEqualTo(CHUNKS + CHUNKS / 20);
  }

  @Test
  void fourStreamsFetchEveryChunkOnce() throws Exception {
    open(8);
    AtomicLong bad = new AtomicLong();
    int segment = CHUNKS / 4;
    try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> fs = new ArrayList<>();
      for (int s = 0; s < 4; s++) {
        long first = (long) s * segment;
        fs.add(ex.submit(() -> {
          stream(first, first + segment, 16 * 1024, 16, bad);
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
    }
    assertThat(bad.get()).isZero();
    assertThat(store.reads.get()).as("GETs for %d chunks", CHUNKS).isLessThanOrEqualTo(CHUNKS + CHUNKS / 20);
  }

  @Test
  void loadsReuseEvictedArraysAndNoReaderSeesAnotherChunksBytes() throws Exception {
    store = new MemoryChunkStore("vol", 64L * CHUNK, CHUNK, false);
    for (long c = 0; c < 64; c++) {
      store.chunks.put(c, VolumeCacheTest.pattern(CHUNK, c));
    }
    // 16 chunks: 4 dirty, 2 uploads and 4 loads in flight, 6 clean (3 recent); random readers over 64 chunks evict
    // all the time, so arrays are retired while other readers may still hold their buffers
    cache = new ChunkCache(new CacheConfig(16L * CHUNK, 4L * CHUNK, CHUNK, 2, 4, 0, Duration.ofSeconds(60),
        Duration.ofSeconds(20), Duration.ofSeconds(20)));
    volume = new VolumeCache(store, cache);
    store.readDelayMillis = 1;
    AtomicLong bad = new AtomicLong();
    try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < 16; t++) {
        long seed = t;
        fs.add(ex.submit(() -> {
          java.util.Random random = new java.util.Random(seed);
          ByteBuffer dst = ByteBuffer.allocate(CHUNK);
          for (int i = 0; i < 300; i++) {
            long c = random.nextInt(64);
            volume.read(c * CHUNK, dst.clear());
            if (!Arrays.equals(dst.array(), store.chunks.get(c))) {
              bad.incrementAndGet();
            }
          }
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
    }
    assertThat(bad.get()).as("reads that returned other bytes than the chunk's").isZero();
    assertThat(cache.reusedArrays()).as("loads took evicted chunks' arrays").isGreaterThan(store.reads.get() / 2);
    assertThat(cache.residentBytes()).isLessThanOrEqualTo(16L * CHUNK);
  }
}
