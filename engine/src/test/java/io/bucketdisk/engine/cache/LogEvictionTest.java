package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Small random writes over more than the dirty cap: dirty chunks leave memory through the log, reads of them come
 * from the chunk objects with the logged extents over them, and the compactor folds the log into the chunks.
 */
@Timeout(120)
class LogEvictionTest {
  static final int CHUNK = 64 * 1024;
  static final long SIZE = 32L * CHUNK;

  final MemoryChunkStore store = new MemoryChunkStore("vol", SIZE, CHUNK, false);
  final ChunkCache cache = new ChunkCache(new CacheConfig(12L * CHUNK, 4L * CHUNK, CHUNK, 2, 2, 4,
      Duration.ofSeconds(60), Duration.ofSeconds(20), Duration.ofSeconds(20)));
  VolumeCache volume;
  final byte[] model = new byte[(int) SIZE];

  /** Half the chunks have objects already, so reads and merges need both the objects and the log. */
  void open() {
    for (long c = 0; c < 32; c += 2) {
      byte[] p = VolumeCacheTest.pattern(CHUNK, 1000 + c);
      store.chunks.put(c, p);
      System.arraycopy(p, 0, model, (int) (c * CHUNK), CHUNK);
    }
    volume = new VolumeCache(store, cache);
  }

  @AfterEach
  void close() throws Exception {
    if (volume != null && !volume.isClosed()) {
      store.failAll = false;
      store.corruptLogReads = false;
      volume.close();
    }
  }

  byte[] read(long offset, int n) throws Exception {
    return read(volume, offset, n);
  }

  static byte[] read(VolumeCache volume, long offset, int n) throws Exception {
    ByteBuffer dst = ByteBuffer.allocate(n);
    volume.read(offset, dst);
    return dst.array();
  }

  /** {@code ops} random small writes, trims and reads over {@code [from, to)}, checked against the model. */
  void randomSmallOps(long seed, int ops, long from, long to) throws Exception {
    randomSmallOps(volume, model, seed, ops, from, to);
  }

  /** {@code ops} random small writes, trims and reads of {@code volume} over {@code [from, to)}, checked. */
  static void randomSmallOps(VolumeCache volume, byte[] model, long seed, int ops, long from, long to)
      throws Exception {
    Random rnd = new Random(seed);
    for (int op = 0; op < ops; op++) {
      long off = from + rnd.nextInt((int) (to - from - 8192));
      int len = 1 + rnd.nextInt(8192);
      switch (rnd.nextInt(12)) {
        case 0 -> {
          volume.trim(off, len, false);
          Arrays.fill(model, (int) off, (int) off + len, (byte) 0);
        }
        case 1, 2, 3 -> assertThat(read(volume, off, len)).as("read %d+%d at op %d", off, len, op)
            .isEqualTo(Arrays.copyOfRange(model, (int) off, (int) off + len));
        default -> {
          byte[] data = VolumeCacheTest.pattern(len, seed * 100_000 + op);
          volume.write(off, ByteBuffer.wrap(data), false);
          synchronized (model) {
            System.arraycopy(data, 0, model, (int) off, len);
          }
        }
      }
    }
  }

  @Test
  void smallRandomWritesOverMoreThanTheDirtyCapStreamIntoTheLogAndFoldLater() throws Exception {
    open();
    randomSmallOps(1, 3000, 0, SIZE);
    var c = volume.counters();
    assertThat(c.logEvictions()).as("logged chunks left memory").isPositive();
    assertThat(c.compactedChunks()).as("the log outgrew 64 chunks and was folded").isPositive();
    assertThat(store.log.size()).as("folded segments were deleted").isLessThan((int) c.logPuts());
    assertThat(read(0, (int) SIZE)).as("every byte reads back").isEqualTo(model);
    volume.flush();
    assertThat(store.imageAfterReplay()).as("what a reopen would replay").isEqualTo(model);
    volume.fold();
    assertThat(store.image()).as("the chunk objects after folding everything").isEqualTo(model);
    volume.close();
    assertThat(store.log).as("a clean close leaves no log").isEmpty();
    assertThat(store.concurrentSameChunk.get()).isZero();
  }

  @Test
  void evictionAndCompactionRaceNoReaderOrWriter() throws Exception {
    open();
    List<Thread> threads = new ArrayList<>();
    List<Throwable> failures = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      long from = t * 8L * CHUNK;
      long seed = 10 + t;
      threads.add(Thread.ofPlatform().start(() -> {
        try {
          randomSmallOps(seed, 1500, from, from + 8L * CHUNK);
        } catch (Throwable e) {
          synchronized (failures) {
            failures.add(e);
          }
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    assertThat(failures).isEmpty();
    assertThat(volume.counters().logEvictions()).isPositive();
    assertThat(read(0, (int) SIZE)).isEqualTo(model);
    volume.flush();
    assertThat(store.imageAfterReplay()).isEqualTo(model);
    volume.close();
    assertThat(store.imageAfterReplay()).as("what the next open adopts").isEqualTo(model);
    assertThat(store.concurrentSameChunk.get()).isZero();
  }

  @Test
  void aLoggedExtentThatFailsItsChecksumIsAnIoErrorNotWrongData() throws Exception {
    open();
    randomSmallOps(3, 600, 0, SIZE);
    assertThat(volume.counters().logEvictions()).isPositive();
    store.corruptLogReads = true;
    long failuresBefore = volume.counters().failures();
    assertThatThrownBy(() -> {
      for (long c = 0; c < 32; c++) {
        read(c * CHUNK, CHUNK);
      }
    }).isInstanceOf(java.io.IOException.class).hasMessageContaining("fails its checksum");
    assertThat(volume.counters().checksumMismatches()).isPositive();
    assertThat(volume.counters().failures()).isGreaterThan(failuresBefore);
    store.corruptLogReads = false;
    assertThat(read(0, (int) SIZE)).as("nothing was lost").isEqualTo(model);
  }
}
