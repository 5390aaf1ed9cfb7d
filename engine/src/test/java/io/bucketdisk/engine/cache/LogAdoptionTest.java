package io.bucketdisk.engine.cache;

import static io.bucketdisk.engine.cache.LogEvictionTest.CHUNK;
import static io.bucketdisk.engine.cache.LogEvictionTest.SIZE;
import static io.bucketdisk.engine.cache.LogEvictionTest.randomSmallOps;
import static io.bucketdisk.engine.cache.LogEvictionTest.read;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A close leaves the write log stored without folding it, and the next open adopts it: every byte reads back from
 * the segments, and the compactor, a snapshot or a fold later stores those chunks and trims the log.
 */
@Timeout(120)
class LogAdoptionTest {
  final MemoryChunkStore store = new MemoryChunkStore("vol", SIZE, CHUNK, false);
  final byte[] model = new byte[(int) SIZE];
  VolumeCache volume;

  /** A volume over {@code store} with a fresh cache of 12 chunks (4 dirty): what a gateway restart opens. */
  static VolumeCache restart(MemoryChunkStore store, int chunk, int minLogChunks) {
    return new VolumeCache(store, new ChunkCache(new CacheConfig(12L * chunk, 4L * chunk, chunk, 2, 2, 4,
        Duration.ofSeconds(60), Duration.ofSeconds(20), Duration.ofSeconds(20), minLogChunks)));
  }

  VolumeCache open(int minLogChunks) {
    volume = restart(store, CHUNK, minLogChunks);
    return volume;
  }

  @AfterEach
  void close() throws Exception {
    if (volume != null && !volume.isClosed()) {
      volume.close();
    }
  }

  @Test
  void aCloseStoresNoChunkForLoggedChangesAndTheNextOpenReadsThemFromTheLog() throws Exception {
    open(1000); // no compaction: every chunk's newest bytes stay in the log only
    randomSmallOps(volume, model, 1, 3000, 0, SIZE);
    long chunkPuts = store.writes.get();
    long segments = store.logAppends.get();
    volume.close();
    assertThat(store.writes.get()).as("chunk PUTs at close").isEqualTo(chunkPuts);
    assertThat(store.logAppends.get() - segments).as("log segments stored at close").isLessThanOrEqualTo(1);
    assertThat(store.log).as("the log stays").isNotEmpty();
    assertThat(store.chunks).as("some chunks exist only in the log").hasSizeLessThan((int) (SIZE / CHUNK));

    open(1000);
    assertThat(read(volume, 0, (int) SIZE)).as("every byte reads back from the adopted log").isEqualTo(model);
    assertThat(store.writes.get()).as("the open stored nothing").isEqualTo(chunkPuts);
    randomSmallOps(volume, model, 2, 300, 0, SIZE);
    volume.snapshot("s");
    assertThat(store.image()).as("a snapshot folds the adopted chunks too").isEqualTo(model);
    volume.close();
    assertThat(store.log).as("folded segments, adopted ones included, are deleted").isEmpty();
    assertThat(store.concurrentSameChunk.get()).isZero();
  }

  @Test
  void aChunkLoggedInManySegmentsReadsThemAtOnce() throws Exception {
    open(1000);
    for (int k = 0; k < 12; k++) {
      byte[] data = VolumeCacheTest.pattern(1000, 70 + k);
      volume.write(k * 5000L, ByteBuffer.wrap(data), false);
      System.arraycopy(data, 0, model, k * 5000, 1000);
      volume.flush(); // one segment each
    }
    volume.close();
    java.util.concurrent.atomic.AtomicInteger now = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger most = new java.util.concurrent.atomic.AtomicInteger();
    store.beforeLogRead = () -> {
      most.accumulateAndGet(now.incrementAndGet(), Math::max);
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      now.decrementAndGet();
    };
    long reads = store.logReads.get();
    open(1000);
    assertThat(read(volume, 0, CHUNK)).isEqualTo(java.util.Arrays.copyOf(model, CHUNK));
    assertThat(store.logReads.get() - reads).as("one ranged GET per segment").isEqualTo(12);
    assertThat(most.get()).as("segments read at once").isGreaterThanOrEqualTo(4);
  }

  @Test
  void aSyncWritersSmallSegmentsAreMergedNotFoldedSoTheNextOpenReadsFewDirectories() throws Exception {
    open(1000); // the byte limit is never reached: only the segment count could start a compaction
    store.writeDelayMillis = 1; // each request takes a while, as on S3 (else the writer outruns every merge)
    byte[] one = new byte[512];
    java.util.Random rnd = new java.util.Random(5);
    int flushes = LogCompactor.MAX_SEGMENTS + 200;
    for (int i = 0; i < flushes; i++) {
      rnd.nextBytes(one);
      long off = (long) rnd.nextInt((int) (SIZE / one.length)) * one.length;
      volume.write(off, ByteBuffer.wrap(one), false);
      System.arraycopy(one, 0, model, (int) off, one.length);
      volume.flush(); // one small segment each, as a sync writer makes
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (store.segments() >= LogMerger.MERGE_AT && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(store.logAppends.get()).isGreaterThanOrEqualTo(flushes);
    assertThat(store.segments()).as("segments left after %d flushes", flushes).isLessThan(LogMerger.MERGE_AT);
    assertThat(store.logMerges.get()).as("merged segments").isPositive();
    assertThat(volume.counters().compactedChunks()).as("chunks folded").isZero();
    assertThat(store.writes.get()).as("chunk PUTs").isZero();
    double perByte = (double) store.logBytes.get() / ((long) flushes * one.length);
    assertThat(perByte).as("bytes PUT per byte written").isLessThan(4.0);
    assertThat(store.imageAfterReplay()).as("what a replay of the merged log gives").isEqualTo(model);
    assertThat(read(volume, 0, (int) SIZE)).as("reads served from merged segments").isEqualTo(model);
    volume.close();
    store.writeDelayMillis = 0;
    open(1000);
    assertThat(read(volume, 0, (int) SIZE)).as("after adopting the merged log").isEqualTo(model);
  }

  @Test
  void theCompactorFoldsAnAdoptedLogOnceItIsLargeAndTrimsIt() throws Exception {
    open(1000);
    randomSmallOps(volume, model, 3, 2000, 0, SIZE);
    volume.close();
    int adopted = store.log.size();
    long first = store.log.firstKey();

    open(1); // the adopted log is far past the limit at once
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while ((store.log.containsKey(first) || volume.counters().compactedChunks() == 0)
        && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(volume.counters().compactedChunks()).as("adopted chunks compacted").isPositive();
    assertThat(store.log.keySet()).as("the adopted segments trimmed").doesNotContain(first);
    assertThat(store.image()).as("the chunk objects hold what the log held").isEqualTo(model);
    assertThat(read(volume, 0, (int) SIZE)).isEqualTo(model);
    volume.write(5, ByteBuffer.wrap(new byte[] {1, 2, 3}), false);
    model[5] = 1;
    model[6] = 2;
    model[7] = 3;
    volume.flush();
    assertThat(store.log.firstKey()).as("numbering goes on after the adopted log").isGreaterThan(first + adopted - 1);
  }

  @Test
  void closeAndReopenCyclesKeepEveryByte() throws Exception {
    for (int cycle = 0; cycle < 5; cycle++) {
      open(cycle % 2 == 0 ? 1000 : 4);
      assertThat(read(volume, 0, (int) SIZE)).as("after reopen %d", cycle).isEqualTo(model);
      randomSmallOps(volume, model, 100 + cycle, 800, 0, SIZE);
      if (cycle == 2) {
        byte[] whole = VolumeCacheTest.pattern(CHUNK, 77);
        volume.write(3L * CHUNK, ByteBuffer.wrap(whole), false);
        System.arraycopy(whole, 0, model, 3 * CHUNK, CHUNK);
        volume.trim(9L * CHUNK, CHUNK, false);
        java.util.Arrays.fill(model, 9 * CHUNK, 10 * CHUNK, (byte) 0);
      }
      volume.close();
      assertThat(store.imageAfterReplay()).as("what a store-level fold would give after cycle %d", cycle)
          .isEqualTo(model);
    }
    open(1000);
    assertThat(read(volume, 0, (int) SIZE)).isEqualTo(model);
    volume.fold();
    volume.close();
    assertThat(store.log).isEmpty();
    assertThat(store.image()).isEqualTo(model);
  }
}
