package io.bucketdisk.engine.cache;

import static io.bucketdisk.engine.cache.LogEvictionTest.CHUNK;
import static io.bucketdisk.engine.cache.LogEvictionTest.SIZE;
import static io.bucketdisk.engine.cache.LogEvictionTest.randomSmallOps;
import static io.bucketdisk.engine.cache.LogEvictionTest.read;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The log merger: which runs it picks, and that a merged log reads, adopts and replays as the model, drops what later
 * segments write again, survives a crash before its deletes, and lets a read that raced it look again.
 */
@Timeout(120)
class LogMergerTest {
  MemoryChunkStore store = new MemoryChunkStore("vol", SIZE, CHUNK, false);
  byte[] model = new byte[(int) SIZE];
  VolumeCache volume;

  VolumeCache open(int chunk, int minLogChunks) {
    volume = LogAdoptionTest.restart(store, chunk, minLogChunks);
    return volume;
  }

  @AfterEach
  void close() throws Exception {
    if (volume != null && !volume.isClosed()) {
      volume.close();
    }
  }

  static WriteLog.Stored s(long seq, long bytes) {
    return new WriteLog.Stored(seq, seq, bytes, 0);
  }

  @Test
  void pickMergesTheOldestRunOfAClassOnceItsBytesReachTheBound() {
    List<WriteLog.Stored> log = new ArrayList<>();
    log.add(s(1, 5 << 20)); // never merged again
    for (int i = 2; i <= 40; i++) {
      log.add(s(i, 4 << 10));
    }
    LogMerger.Run run = LogMerger.pick(log);
    assertThat(run).isNotNull();
    assertThat(run.segments()).extracting(WriteLog.Stored::first).first().isEqualTo(2L);
    assertThat(run.segments()).as("16 of 4 KiB reach 64 KiB, and the rest of the run is taken along").hasSize(39);
    assertThat(run.level()).isEqualTo(1);
    assertThat(LogMerger.pick(log.subList(0, 16))).as("15 of 4 KiB are not worth a merge").isNull();

    List<WriteLog.Stored> merged = new ArrayList<>();
    for (int i = 1; i <= 30; i++) {
      merged.add(new WriteLog.Stored(10L * i, 10L * i + 9, 40 << 10, 1)); // shrank below 64 KiB: still class 1
    }
    merged.add(s(300, 4 << 10));
    merged.add(s(301, 4 << 10));
    run = LogMerger.pick(merged);
    assertThat(run).isNotNull();
    assertThat(run.segments()).as("not re-merged at class 0: 26 of 40 KiB reach 1 MiB, 31 stay below 2 MiB")
        .hasSize(32);
    assertThat(run.level()).isEqualTo(2);
    assertThat(LogMerger.pick(merged.subList(0, 25))).as("25 of 40 KiB stay below 1 MiB").isNull();

    assertThat(LogMerger.pick(List.of(s(1, 4 << 10), s(2, 5 << 20), s(3, 4 << 10)))).as("nothing reaches a bound")
        .isNull();
    List<WriteLog.Stored> stranded = new ArrayList<>();
    for (int i = 1; i <= LogMerger.STRANDED_RUN; i++) {
      stranded.add(new WriteLog.Stored(i, i, 100, 2)); // merged twice, nearly all written again since
    }
    assertThat(LogMerger.pick(stranded)).as("a long run that never reaches a bound").isNotNull()
        .extracting(LogMerger.Run::segments).asList().hasSize(LogMerger.STRANDED_RUN);
  }

  /** {@code n} writes of {@code len} bytes at random places of {@code [0, span)}, each followed by a FLUSH. */
  void syncWrites(Random rnd, int n, int len, long span) throws Exception {
    byte[] one = new byte[len];
    for (int i = 0; i < n; i++) {
      rnd.nextBytes(one);
      long off = (long) rnd.nextInt((int) (span / len)) * len;
      volume.write(off, ByteBuffer.wrap(one), false);
      System.arraycopy(one, 0, model, (int) off, len);
      volume.flush();
    }
  }

  void awaitMerged() throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while ((store.replayedSegments() >= LogMerger.MERGE_AT || store.logMerges.get() == 0)
        && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(store.logMerges.get()).as("merges").isPositive();
  }

  @Test
  void aMergedLogReadsAdoptsAndReplaysAsTheModelWithTrimsAndEvictions() throws Exception {
    open(CHUNK, 1000);
    Random rnd = new Random(11);
    for (int round = 0; round < 6; round++) {
      randomSmallOps(volume, model, round, 150, 0, SIZE); // evictions through the log, zeros extents
      syncWrites(rnd, 120, 1024, SIZE);
    }
    awaitMerged();
    assertThat(volume.counters().compactedChunks()).as("nothing folded").isZero();
    assertThat(read(volume, 0, (int) SIZE)).as("read").isEqualTo(model);
    assertThat(store.imageAfterReplay()).as("replayed").isEqualTo(model);
    volume.close();
    open(CHUNK, 1000);
    assertThat(read(volume, 0, (int) SIZE)).as("adopted").isEqualTo(model);
    syncWrites(rnd, 200, 512, SIZE);
    volume.fold();
    assertThat(store.image()).as("folded").isEqualTo(model);
  }

  @Test
  void bytesALaterSegmentWritesAgainAreNotCopied() throws Exception {
    open(CHUNK, 1000);
    syncWrites(new Random(3), LogMerger.MERGE_AT + 40, 4096, 4096); // one range, written again and again
    awaitMerged();
    for (var e : store.merged.entrySet()) {
      assertThat(e.getValue().length).as("merged segment %s", e.getKey()).isLessThan(2 * 4096 + 200);
    }
    assertThat(store.imageAfterReplay()).isEqualTo(model);
    assertThat(read(volume, 0, (int) SIZE)).isEqualTo(model);
  }

  @Test
  void aCrashBetweenTheMergedPutAndItsDeletesReopensTheSame() throws Exception {
    store.keepMergedOriginals = true;
    open(CHUNK, 1000);
    syncWrites(new Random(4), LogMerger.MERGE_AT + 100, 1024, SIZE);
    awaitMerged();
    assertThat(store.log.firstKey()).as("the originals are all still stored").isEqualTo(1);
    volume.close(); // what a SIGKILL leaves in the log (the cache held nothing unlogged)
    assertThat(store.imageAfterReplay()).as("replayed").isEqualTo(model);
    store.keepMergedOriginals = false;
    open(CHUNK, 1000);
    assertThat(store.log.firstKey()).as("the adoption deleted the originals").isGreaterThan(1);
    assertThat(read(volume, 0, (int) SIZE)).as("adopted").isEqualTo(model);
  }

  @Test
  void aReadThatTookTheOriginalsEntriesLooksAgainAfterTheMerge() throws Exception {
    open(CHUNK, 1000);
    syncWrites(new Random(6), LogMerger.MERGE_AT - 1, 1024, SIZE);
    volume.close();
    open(CHUNK, 1000); // nothing in memory: every read goes to the log
    CountDownLatch reading = new CountDownLatch(1);
    CountDownLatch merged = new CountDownLatch(1);
    byte[][] got = new byte[1][];
    Thread reader = Thread.ofVirtual().unstarted(() -> {
      try {
        got[0] = read(volume, 0, (int) SIZE);
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    store.beforeLogRead = () -> {
      // the reader's log reads run on the volume's SegmentReads workers; nothing else reads the log meanwhile
      if (Thread.currentThread().getName().startsWith("log-read-") && reading.getCount() > 0) {
        reading.countDown();
        try {
          merged.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    };
    reader.start();
    assertThat(reading.await(10, TimeUnit.SECONDS)).isTrue();
    syncWrites(new Random(7), 1, 1024, CHUNK); // the 128th segment: a merge starts
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (store.log.containsKey(1L) && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(store.log).as("the first originals merged and dropped").doesNotContainKey(1L);
    merged.countDown();
    reader.join(Duration.ofSeconds(10));
    assertThat(store.logReadMisses.get()).as("the reader found an original gone").isPositive();
    byte[] expect = model.clone();
    assertThat(got[0]).isNotNull();
    // the write after the reader started may or may not show; compare the chunks it did not touch
    System.arraycopy(got[0], 0, expect, 0, CHUNK);
    assertThat(got[0]).isEqualTo(expect);
  }

  @Test
  void aSyncWriterOfSmallBlocksPutsAFewBytesPerByteAndFoldsNothing() throws Exception {
    int chunk = 4 << 20;
    long size = 16L * chunk;
    store = new MemoryChunkStore("vol", size, chunk, false);
    store.writeDelayMillis = 1; // each request takes a while, as on S3 (else the writer outruns every merge)
    model = new byte[(int) size];
    open(chunk, CacheConfig.DEFAULT_MIN_LOG_CHUNKS);
    int flushes = 2 * LogCompactor.MAX_SEGMENTS + 200;
    syncWrites(new Random(8), flushes, 4096, size);
    awaitMerged();
    long written = (long) flushes * 4096;
    long put = store.logBytes.get() + store.writes.get() * (long) chunk;
    System.out.printf("sync writer: %d flushes of 4 KiB over %d MiB: %d bytes of log PUT, %d chunk PUTs, %d merges, "
        + "%d segments left, %d chunks compacted: %.2f bytes PUT per byte%n", flushes, size >> 20,
        store.logBytes.get(), store.writes.get(), store.logMerges.get(), store.segments(),
        volume.counters().compactedChunks(), (double) put / written);
    assertThat(store.writes.get()).as("chunk PUTs").isZero();
    assertThat(store.segments()).isLessThan(LogMerger.MERGE_AT);
    assertThat((double) put / written).as("bytes PUT per byte written").isLessThan(4.0);
    volume.close();
    store.writeDelayMillis = 0;
    open(chunk, CacheConfig.DEFAULT_MIN_LOG_CHUNKS);
    assertThat(read(volume, 0, (int) size)).isEqualTo(model);
  }
}
