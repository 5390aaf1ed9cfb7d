package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A log of half its compaction limit is folded once no segment was appended and no request served for a second, and
 * not before; such a fold gives way to the next request.
 */
@Timeout(60)
class IdleCompactionTest {
  static final int CHUNK = 64 * 1024;
  static final long SIZE = 32L * CHUNK;

  final MemoryChunkStore store = new MemoryChunkStore("vol", SIZE, CHUNK, false);
  final byte[] model = new byte[(int) SIZE];
  VolumeCache volume;

  @AfterEach
  void close() throws Exception {
    if (volume != null && !volume.isClosed()) {
      volume.close();
    }
  }

  long logBytes() {
    return store.log.values().stream().mapToLong(b -> b.length).sum();
  }

  /** Writes {@code length} bytes of pattern {@code seed} at {@code off}, and the same into the model. */
  void write(long off, int length, int seed) throws Exception {
    byte[] data = VolumeCacheTest.pattern(length, seed);
    volume.write(off, ByteBuffer.wrap(data), false);
    System.arraycopy(data, 0, model, (int) off, data.length);
  }

  boolean allStored() {
    return allStored(4);
  }

  boolean allStored(int chunks) {
    for (int c = 0; c < chunks; c++) {
      if (!java.util.Arrays.equals(store.chunks.get((long) c), java.util.Arrays.copyOfRange(model, c * CHUNK, (c + 1) * CHUNK))) {
        return false;
      }
    }
    return true;
  }

  /** Waits (up to 10 s) until an idle fold stored a chunk, then reads (a request: it takes no further chunk). */
  long readOnceAFoldStored() throws Exception {
    long start = System.nanoTime();
    while (volume.counters().compactedChunks() == 0 && System.nanoTime() - start < 10_000_000_000L) {
      Thread.sleep(1);
    }
    volume.read(20L * CHUNK, ByteBuffer.allocate(4096));
    return volume.counters().compactedChunks();
  }

  @Test
  void aQuietVolumeFoldsALogOfHalfItsLimit() throws Exception {
    // 4 chunks named, at least 8 chunks' worth: the limit is 8 chunks (512 KiB), half of it 256 KiB
    volume = LogAdoptionTest.restart(store, CHUNK, 8);
    int i = 0;
    long lastFlush = 0;
    while (logBytes() < 300 << 10) {
      // 15 of each chunk's 16 pages, never the last: a chunk written whole would be uploaded as one, and when that
      // happened before the quiet second (on a loaded machine) the log was trimmed below half its limit: no fold
      long off = (long) (i % 4) * CHUNK + (i / 4 * 4096L) % (CHUNK - 4096);
      write(off, 4096, i);
      lastFlush = System.nanoTime(); // the last segment is appended after this, and the quiet starts there
      volume.flush();
      i++;
    }
    assertThat(logBytes()).as("below the limit").isLessThan(512 << 10);
    assertThat(volume.counters().compactedChunks()).as("folded while writing").isZero();
    while (volume.counters().compactedChunks() == 0 && System.nanoTime() - lastFlush < 10_000_000_000L) {
      Thread.sleep(5);
    }
    long folding = System.nanoTime();
    assertThat(folding - lastFlush).as("not before a second of quiet").isGreaterThanOrEqualTo(LogCompactor.IDLE_NANOS);
    while (!allStored() && System.nanoTime() - folding < 10_000_000_000L) {
      Thread.sleep(5); // the fold stores its chunks one by one
    }
    for (int c = 0; c < 4; c++) {
      assertThat(store.chunks.get((long) c)).as("chunk %d stored (%d chunks folded)", c,
          volume.counters().compactedChunks()).isEqualTo(java.util.Arrays.copyOfRange(model, c * CHUNK, (c + 1) * CHUNK));
    }
    ByteBuffer all = ByteBuffer.allocate((int) SIZE);
    volume.read(0, all);
    assertThat(all.array()).isEqualTo(model);
  }

  @Test
  void aLogAdoptedOverItsLimitWaitsForQuietInsteadOfFoldingUnderTheNextWriter() throws Exception {
    volume = LogAdoptionTest.restart(store, CHUNK, 1000); // no fold in this open
    for (int i = 0; i < 320; i++) {
      long off = (long) (i % 8) * CHUNK + (i / 8 * 4096L) % CHUNK;
      write(off, 4096, i);
      if (i % 4 == 3) {
        volume.flush(); // 80 segments: below the merger's 128, so the overwritten bytes stay in the log
      }
    }
    volume.close();
    volume = LogAdoptionTest.restart(store, CHUNK, 1); // limit 16 chunks (1 MiB); the log holds 1.25 MiB over 8 chunks
    assertThat(logBytes()).as("adopted over the limit").isGreaterThanOrEqualTo(16L * CHUNK);
    long writing = System.nanoTime();
    int i = 0;
    while (System.nanoTime() - writing < 1_500_000_000L) { // a writer that flushes every few ms: never quiet
      long off = (long) (i % 8) * CHUNK + 512L * (i % 64);
      write(off, 512, 1000 + i);
      volume.flush();
      Thread.sleep(5);
      i++;
    }
    assertThat(volume.counters().compactedChunks()).as("folded under the writer").isZero();
    long quiet = System.nanoTime();
    while (!allStored(8) && System.nanoTime() - quiet < 10_000_000_000L) {
      Thread.sleep(5);
    }
    for (int c = 0; c < 8; c++) {
      assertThat(store.chunks.get((long) c)).as("chunk %d folded once quiet", c)
          .isEqualTo(java.util.Arrays.copyOfRange(model, c * CHUNK, (c + 1) * CHUNK));
    }
  }

  @Test
  void anIdleFoldGivesWayToReadsAndFinishesInTheNextQuiet() throws Exception {
    // the limit is 16 chunks (1 MiB), half of it 512 KiB, also once fewer than 8 chunks are named (a fold that gave
    // way lowers the count, and at 8 the limit would be twice the count: under the log); under 128 segments, so
    // nothing is merged
    volume = LogAdoptionTest.restart(store, CHUNK, 16);
    int i = 0;
    while (logBytes() < 600 << 10) {
      long off = (long) (i % 8) * CHUNK + (i / 8 * 4096L) % (CHUNK - 4096);
      write(off, 4096, i);
      if (i % 8 == 7) {
        volume.flush();
      }
      i++;
    }
    volume.flush();
    store.writeDelayMillis = 100; // each chunk the fold stores takes 100 ms: 2 workers need 400 ms for all 8
    long atRequest = readOnceAFoldStored();
    ByteBuffer page = ByteBuffer.allocate(4096);
    assertThat(atRequest).as("folding started while quiet").isBetween(1L, 6L);
    long reading = System.nanoTime();
    while (System.nanoTime() - reading < 1_500_000_000L) { // a reader every 50 ms: never quiet for a second
      volume.read(20L * CHUNK, page.clear());
      Thread.sleep(50);
    }
    assertThat(volume.counters().compactedChunks()).as("chunks folded under the reader (2 were in flight)")
        .isLessThanOrEqualTo(atRequest + 2);
    long quiet = System.nanoTime();
    while (!allStored(8) && System.nanoTime() - quiet < 10_000_000_000L) {
      Thread.sleep(5);
    }
    assertThat(System.nanoTime() - quiet).as("folded after a quiet second").isGreaterThanOrEqualTo(LogCompactor.IDLE_NANOS);
    for (int c = 0; c < 8; c++) {
      assertThat(store.chunks.get((long) c)).as("chunk %d folded once quiet", c)
          .isEqualTo(java.util.Arrays.copyOfRange(model, c * CHUNK, (c + 1) * CHUNK));
    }
  }

  @Test
  void aFoldThatGaveWayHasFreedTheOldestSegmentsOfTheChunksItFolded() throws Exception {
    // Chunk 7 alone in the oldest 15 segments, then chunks 0-6 in the rest: folded oldest first, chunk 7 goes first
    // and its segments die; in the index's order (0 first) the first folds would free none.
    volume = LogAdoptionTest.restart(store, CHUNK, 16);
    for (int p = 0; p < 15; p++) {
      write(7L * CHUNK + p * 4096L, 4096, p);
      volume.flush();
    }
    long chunk7Through = store.log.lastKey();
    int i = 0;
    while (logBytes() < 600 << 10) {
      long off = (long) (i % 7) * CHUNK + (i / 7 * 4096L) % (CHUNK - 4096);
      write(off, 4096, 100 + i);
      if (i % 8 == 7) {
        volume.flush();
      }
      i++;
    }
    volume.flush();
    assertThat(store.log.firstKey()).as("chunk 7's segments stored").isLessThanOrEqualTo(chunk7Through);
    store.writeDelayMillis = 300; // each chunk the fold stores takes 300 ms
    long atRequest = readOnceAFoldStored();
    ByteBuffer page = ByteBuffer.allocate(4096);
    assertThat(atRequest).as("the fold gave way early").isLessThanOrEqualTo(3);
    long reading = System.nanoTime();
    while (store.log.firstKey() <= chunk7Through && System.nanoTime() - reading < 5_000_000_000L) {
      volume.read(20L * CHUNK, page.clear()); // a reader every 50 ms: never quiet for a second
      Thread.sleep(50);
    }
    assertThat(store.log.firstKey()).as("chunk 7's segments deleted after %d of 8 chunks folded",
        volume.counters().compactedChunks()).isGreaterThan(chunk7Through);
    assertThat(volume.counters().compactedChunks()).as("the fold still gave way").isLessThan(8);
    ByteBuffer all = ByteBuffer.allocate((int) SIZE);
    volume.read(0, all);
    assertThat(all.array()).isEqualTo(model);
  }
}
