package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A log of half its compaction limit is folded once no segment was appended for a second, and not before. */
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

  boolean allStored() {
    for (int c = 0; c < 4; c++) {
      if (!java.util.Arrays.equals(store.chunks.get((long) c), java.util.Arrays.copyOfRange(model, c * CHUNK, (c + 1) * CHUNK))) {
        return false;
      }
    }
    return true;
  }

  @Test
  void aQuietVolumeFoldsALogOfHalfItsLimit() throws Exception {
    // 4 chunks named, at least 8 chunks' worth: the limit is 8 chunks (512 KiB), half of it 256 KiB
    volume = LogAdoptionTest.restart(store, CHUNK, 8);
    int i = 0;
    long lastFlush = 0;
    while (logBytes() < 300 << 10) {
      byte[] data = VolumeCacheTest.pattern(4096, i);
      long off = (long) (i % 4) * CHUNK + (i / 4 * 4096L) % CHUNK;
      volume.write(off, ByteBuffer.wrap(data), false);
      System.arraycopy(data, 0, model, (int) off, data.length);
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
}
