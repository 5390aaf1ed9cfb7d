package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Small random reads fetch 64 KiB granules with ranged GETs and keep them; sequential and large reads load whole chunks;
 * a granule never outlives a write to its chunk. 1 MiB chunks (the cache parts' other tests use 64 KiB chunks, which
 * are too small to have granules).
 */
@Timeout(60)
class FragmentReadTest {
  static final int CHUNK = 1 << 20;
  static final long SIZE = 16L * CHUNK;

  final MemoryChunkStore store = new MemoryChunkStore("vol", SIZE, CHUNK, false);
  final ChunkCache cache = new ChunkCache(new CacheConfig(16L * CHUNK, 4L * CHUNK, CHUNK, 2, 2, 4,
      Duration.ofSeconds(60), Duration.ofSeconds(5), Duration.ofSeconds(5)));
  final VolumeCache volume = new VolumeCache(store, cache);
  final byte[] stored = new byte[(int) SIZE];

  FragmentReadTest() {
    new Random(1).nextBytes(stored);
    for (int i = 0; i < SIZE / CHUNK; i++) {
      store.chunks.put((long) i, Arrays.copyOfRange(stored, i * CHUNK, (i + 1) * CHUNK));
    }
  }

  @AfterEach
  void close() throws Exception {
    volume.close();
  }

  byte[] read(long offset, int n) throws Exception {
    ByteBuffer dst = ByteBuffer.allocate(n);
    volume.read(offset, dst);
    return dst.array();
  }

  @Test
  void aLone4kReadFetchesItsGranuleOnlyAndKeepsIt() throws Exception {
    long offset = 5L * CHUNK + 200_000;
    assertThat(read(offset, 4096)).isEqualTo(Arrays.copyOfRange(stored, (int) offset, (int) offset + 4096));
    assertThat(store.reads.get()).as("whole-chunk GETs").isZero();
    assertThat(store.rangeReads.get()).as("ranged GETs").isEqualTo(1);
    assertThat(volume.counters().bytesDown()).as("bytes fetched for a 4 KiB read").isEqualTo(64 * 1024);

    long near = 5L * CHUNK + 196_608 + 8192; // another 4 KiB in the same 64 KiB granule
    assertThat(read(near, 4096)).isEqualTo(Arrays.copyOfRange(stored, (int) near, (int) near + 4096));
    assertThat(store.rangeReads.get()).as("the granule is held: no second GET").isEqualTo(1);
  }

  @Test
  void aReadAcrossTwoGranulesIsOneRangedGet() throws Exception {
    long offset = 3L * CHUNK + 65536 - 2048;
    assertThat(read(offset, 4096)).isEqualTo(Arrays.copyOfRange(stored, (int) offset, (int) offset + 4096));
    assertThat(store.rangeReads.get()).isEqualTo(1);
    assertThat(volume.counters().bytesDown()).isEqualTo(128 * 1024);
    assertThat(read(offset + 4096, 4096)).as("held").hasSize(4096);
    assertThat(store.rangeReads.get()).isEqualTo(1);
  }

  @Test
  void aWriteDropsTheChunksGranulesAndAFetchThatRacedOneIsNotKept() throws Exception {
    ChunkOwner owner = e -> {};
    var counters = new CacheCounters();
    var stored = new StoredChunks(store, new LogIndex(), counters,
        new java.util.concurrent.Semaphore(SegmentReads.BUDGET));
    var dirty = new DirtyChunks(owner, stored, cache, i -> {}, (i, v) -> {});
    var fragments = new FragmentReads(owner, stored, cache, dirty);
    ByteBuffer dst = ByteBuffer.allocate(4096);
    assertThat(fragments.fetch(2, 4096, 4096, dirty.stamp(2), dst)).isTrue();
    assertThat(fragments.copyIfHeld(2, 4096, 4096, ByteBuffer.allocate(4096))).as("kept").isTrue();

    dirty.write(2, 100, 1, ByteBuffer.wrap(new byte[] {1}), null);
    assertThat(fragments.copyIfHeld(2, 4096, 4096, ByteBuffer.allocate(4096)))
        .as("the chunk became dirty: its granules are gone, though the write touched another one").isFalse();

    long before = dirty.stamp(3);
    dirty.write(3, 0, 1, ByteBuffer.wrap(new byte[] {1}), null); // a write while a fetch of chunk 3 is in flight
    assertThat(fragments.fetch(3, 65536, 4096, before, ByteBuffer.allocate(4096))).isTrue();
    assertThat(fragments.copyIfHeld(3, 65536, 4096, ByteBuffer.allocate(4096))).as("a stale fetch is not kept")
        .isFalse();
    dirty.dropAll();
  }

  @Test
  void largeAndSequentialReadsLoadWholeChunks() throws Exception {
    read(7L * CHUNK, 512 * 1024);
    assertThat(store.reads.get()).as("a 512 KiB read").isEqualTo(1);
    assertThat(store.rangeReads.get()).isZero();
    int quarter = CHUNK / 4;
    for (long pos = 9L * CHUNK; pos < 9L * CHUNK + quarter + 16 * 4096; pos += 4096) {
      assertThat(read(pos, 4096)).isEqualTo(Arrays.copyOfRange(stored, (int) pos, (int) pos + 4096));
    }
    assertThat(store.rangeReads.get()).as("granules until the stream has read a quarter chunk")
        .isEqualTo(quarter / FragmentReads.GRANULE);
    assertThat(store.reads.get()).as("then chunk 9 whole, with read-ahead").isGreaterThanOrEqualTo(2);
  }
}
