package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.engine.ExtentMap;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Block status finer than a chunk: from a dirty chunk's valid and at-risk ranges and from the log's extents, over a
 * clone's parent layer; checked exactly in small cases and against a byte model through random writes, zeros,
 * flushes, reopens (the log adopted) and folds.
 */
@Timeout(120)
class BlockStatusTest {
  static final int CHUNK = 64 * 1024;
  static final long SIZE = 16L * CHUNK;
  static final int HOLE = ExtentMap.HOLE | ExtentMap.ZERO;

  MemoryChunkStore store = new MemoryChunkStore("vol", SIZE, CHUNK, false);
  VolumeCache volume;

  void open() {
    // nothing stored or logged before a flush: a 60 s loss window, and a dirty cap of twice the volume
    volume = new VolumeCache(store, new ChunkCache(new CacheConfig(48L * CHUNK, 32L * CHUNK, CHUNK, 2, 2, 4,
        Duration.ofSeconds(60), Duration.ofSeconds(20), Duration.ofSeconds(20), 1000)));
  }

  void reopen() throws Exception {
    volume.close();
    open();
  }

  @AfterEach
  void close() throws Exception {
    CountDownLatch hold = store.logHold;
    if (hold != null) {
      hold.countDown();
    }
    if (volume != null && !volume.isClosed()) {
      volume.close();
    }
  }

  @Test
  void aSmallWriteOverAParentChunkIsThisVolumesAndAtRiskOnlyWhereWritten() throws Exception {
    store.parent.put(2L, VolumeCacheTest.pattern(CHUNK, 2));
    open();
    volume.write(2L * CHUNK + 8192, ByteBuffer.wrap(VolumeCacheTest.pattern(4096, 7)), false);
    assertThat(extents(ExtentMap.DEPTH, 2L * CHUNK, CHUNK)).containsExactly(
        new long[] {8192, 2}, new long[] {4096, 1}, new long[] {CHUNK - 12288, 2});
    assertThat(extents(ExtentMap.ALLOCATION, 2L * CHUNK, CHUNK)).containsExactly(new long[] {CHUNK, 0});
    assertThat(extents(ExtentMap.DIRTY, 2L * CHUNK, CHUNK)).containsExactly(
        new long[] {8192, 0}, new long[] {4096, 1}, new long[] {CHUNK - 12288, 0});
    volume.flush();
    assertThat(extents(ExtentMap.DIRTY, 0, SIZE)).containsExactly(new long[] {SIZE, 0});
    reopen();
    assertThat(extents(ExtentMap.DEPTH, 2L * CHUNK, CHUNK)).as("from the adopted log").containsExactly(
        new long[] {8192, 2}, new long[] {4096, 1}, new long[] {CHUNK - 12288, 2});
    volume.fold();
    assertThat(extents(ExtentMap.DEPTH, 2L * CHUNK, CHUNK)).as("folded: the chunk object is this volume's")
        .containsExactly(new long[] {CHUNK, 1});
  }

  @Test
  void aChunkWithoutObjectHoldsDataOnlyWhereWrittenInMemoryInTheLogAndNotOnceFolded() throws Exception {
    open();
    long c = 9L * CHUNK;
    volume.write(c + 1000, ByteBuffer.wrap(VolumeCacheTest.pattern(100, 1)), false);
    volume.write(c + 5000, ByteBuffer.wrap(VolumeCacheTest.pattern(1000, 2)), false);
    List<long[]> holesAndData = List.of(new long[] {1000, HOLE}, new long[] {100, 0}, new long[] {3900, HOLE},
        new long[] {1000, 0}, new long[] {CHUNK - 6000, HOLE});
    assertThat(extents(ExtentMap.ALLOCATION, c, CHUNK)).as("in memory").containsExactlyElementsOf(holesAndData);
    assertThat(extents(ExtentMap.DIRTY, c, CHUNK)).containsExactly(new long[] {1000, 0}, new long[] {100, 1},
        new long[] {3900, 0}, new long[] {1000, 1}, new long[] {CHUNK - 6000, 0});
    volume.flush();
    assertThat(extents(ExtentMap.ALLOCATION, c, CHUNK)).as("logged").containsExactlyElementsOf(holesAndData);
    reopen();
    assertThat(volume.dirtyBuffer(9)).isNull();
    assertThat(extents(ExtentMap.ALLOCATION, c, CHUNK)).as("from the adopted log only")
        .containsExactlyElementsOf(holesAndData);
    assertThat(extents(ExtentMap.DEPTH, c, CHUNK)).containsExactly(new long[] {1000, 0}, new long[] {100, 1},
        new long[] {3900, 0}, new long[] {1000, 1}, new long[] {CHUNK - 6000, 0});
    volume.fold();
    assertThat(extents(ExtentMap.ALLOCATION, c, CHUNK)).as("folded into an object: data whole")
        .containsExactly(new long[] {CHUNK, 0});
  }

  @Test
  void aChangeIsDirtyWhileTheSegmentHoldingItIsStoredAndAfterThatFails() throws Exception {
    open();
    long c = 9L * CHUNK;
    volume.write(c + 4096, ByteBuffer.wrap(VolumeCacheTest.pattern(4096, 1)), false);
    List<long[]> atRisk = List.of(new long[] {9L * CHUNK + 4096, 0}, new long[] {4096, 1},
        new long[] {SIZE - 9L * CHUNK - 8192, 0});
    store.logHold = new CountDownLatch(1);
    Thread flush = Thread.ofVirtual().start(() -> {
      try {
        volume.flush();
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    store.logEntered.await();
    assertThat(extents(ExtentMap.DIRTY, 0, SIZE)).as("captured, its segment not stored yet: the whole chunk")
        .containsExactly(new long[] {9L * CHUNK, 0}, new long[] {CHUNK, 1}, new long[] {SIZE - 10L * CHUNK, 0});
    store.logHold.countDown();
    flush.join();
    assertThat(extents(ExtentMap.DIRTY, 0, SIZE)).containsExactly(new long[] {SIZE, 0});
    store.logHold = null;
    volume.write(c + 4096, ByteBuffer.wrap(VolumeCacheTest.pattern(4096, 2)), false);
    store.failLog = true;
    store.failAll = true;
    assertThatThrownBy(volume::flush).isInstanceOf(java.io.IOException.class);
    assertThat(extents(ExtentMap.DIRTY, 0, SIZE)).as("the segment failed").containsExactlyElementsOf(atRisk);
    store.failLog = false;
    store.failAll = false;
    volume.flush();
    assertThat(extents(ExtentMap.DIRTY, 0, SIZE)).containsExactly(new long[] {SIZE, 0});
  }

  @Test
  void aZeroedChunkIsAHoleInMemoryInTheLogAndOverItsParent() throws Exception {
    store.parent.put(3L, VolumeCacheTest.pattern(CHUNK, 3));
    store.chunks.put(5L, VolumeCacheTest.pattern(CHUNK, 5));
    open();
    volume.zero(3L * CHUNK, CHUNK, false);
    volume.zero(5L * CHUNK, CHUNK, false);
    for (String phase : List.of("in memory", "logged", "adopted", "folded")) {
      switch (phase) {
        case "logged" -> volume.flush();
        case "adopted" -> reopen();
        case "folded" -> volume.fold();
        default -> { }
      }
      assertThat(extents(ExtentMap.ALLOCATION, 3L * CHUNK, 3L * CHUNK)).as(phase)
          .containsExactly(new long[] {3L * CHUNK, HOLE});
      assertThat(extents(ExtentMap.DEPTH, 3L * CHUNK, 3L * CHUNK)).as(phase)
          .containsExactly(new long[] {3L * CHUNK, 0});
    }
  }

  @Test
  void randomChangesNeverShowAHoleThatHoldsDataNorHideAChangeNotStored() throws Exception {
    Random rnd = new Random(17);
    // short episodes on a fresh clone each: after a fold every chunk written has an object, and the log's extents
    // and the dirty chunks' ranges are what this test is about
    for (int episode = 0; episode < 12; episode++) {
      if (episode > 0) {
        volume.close();
        store = new MemoryChunkStore("vol", SIZE, CHUNK, false);
      }
      byte[][] parent = new byte[(int) (SIZE / CHUNK)][];
      for (long i = episode % 3; i < SIZE / CHUNK; i += 3) {
        parent[(int) i] = VolumeCacheTest.pattern(CHUNK, 100 + i);
        store.parent.put(i, parent[(int) i]);
      }
      open();
      boolean[] written = new boolean[(int) SIZE]; // this volume wrote the byte (data or zeros)
      boolean[] changed = new boolean[(int) SIZE]; // with data, since the last flush
      long storedSinceFlush = stored(); // what the store had when `changed` was last cleared
      for (int round = 0; round < 6; round++) {
        for (int op = 0; op < 12; op++) {
          long off = rnd.nextLong(SIZE - 1);
          int n = (int) Math.min(SIZE - off, 1 + rnd.nextInt(rnd.nextInt(10) > 0 ? 2048 : 3 * CHUNK / 2));
          if (rnd.nextInt(8) == 0) {
            volume.zero(off, n, false); // changes nothing where the volume reads as zeros already
          } else {
            volume.write(off, ByteBuffer.wrap(VolumeCacheTest.pattern(n, round * 100L + op)), false);
            Arrays.fill(changed, (int) off, (int) off + n, true);
          }
          Arrays.fill(written, (int) off, (int) off + n, true);
        }
        int end = rnd.nextInt(10);
        switch (end) {
          case 0, 1 -> {
            volume.flush();
            Arrays.fill(changed, false);
          }
          case 2, 3 -> {
            reopen(); // a close logs what is dirty; the next open knows it from the log only
            Arrays.fill(changed, false);
          }
          case 4 -> {
            volume.fold();
            Arrays.fill(changed, false);
          }
          default -> { }
        }
        if (check(episode + "." + round, parent, written, changed, storedSinceFlush, end <= 4)) {
          dirtyChecked++;
        }
        if (end <= 4) {
          storedSinceFlush = stored();
        }
      }
    }
    assertThat(dirtyChecked).as("rounds whose changes the dirty map was checked against").isGreaterThanOrEqualTo(12);
  }

  private int dirtyChecked;

  /** What the store acknowledged so far: chunk PUTs, deletes and segments. */
  private long stored() {
    return store.writes.get() + store.deleteCalls.get() + store.logAppends.get();
  }

  /**
   * Checks the three maps against the model; the changes since the last flush against the dirty map only if the
   * store acknowledged nothing since {@code storedBefore}, when they began (a chunk a write completed uploads in the
   * background, and what it stored is rightly no longer dirty); nothing dirty at all when the round ended {@code settled} (with a
   * flush, a reopen or a fold). Whether it checked the changes.
   */
  private boolean check(String round, byte[][] parent, boolean[] written, boolean[] changed, long storedBefore,
      boolean settled) throws Exception {
    // every map before the read: a read caches chunks, and a cached chunk counts as data whole
    List<long[]> allocation = extents(ExtentMap.ALLOCATION, 0, SIZE);
    List<long[]> depth = extents(ExtentMap.DEPTH, 0, SIZE);
    List<long[]> dirtyMap = extents(ExtentMap.DIRTY, 0, SIZE);
    boolean nothingStored = stored() == storedBefore;
    byte[] image = new byte[(int) SIZE];
    volume.read(0, ByteBuffer.wrap(image));
    long pos = 0;
    for (long[] e : allocation) {
      for (int k = (int) pos; k < pos + e[0]; k++) {
        if (e[1] == HOLE) {
          assertThat(image[k]).as("round %s: byte %d reported a hole reads as zero", round, k).isZero();
        }
      }
      pos += e[0];
    }
    assertThat(pos).isEqualTo(SIZE);
    pos = 0;
    for (long[] e : depth) {
      for (int k = (int) pos; k < pos + e[0]; k++) {
        byte[] p = parent[k / CHUNK];
        switch ((int) e[1]) {
          case 0 -> assertThat(image[k]).as("round %s: byte %d at depth 0 reads as zero", round, k).isZero();
          case 1 -> { }
          case 2 -> {
            assertThat(written[k]).as("round %s: byte %d at depth 2 was written here", round, k).isFalse();
            assertThat(p).isNotNull();
            assertThat(image[k]).as("round %s: byte %d at depth 2 is the parent's", round, k).isEqualTo(p[k % CHUNK]);
          }
          default -> throw new AssertionError("depth " + e[1]);
        }
        if (written[k] && image[k] != 0) {
          assertThat(e[1]).as("round %s: byte %d written here", round, k).isEqualTo(1);
        }
      }
      pos += e[0];
    }
    if (settled) {
      assertThat(dirtyMap).as("round %s: nothing dirty after a flush", round)
          .containsExactly(new long[] {SIZE, 0});
      return false;
    }
    if (!nothingStored) {
      return false;
    }
    pos = 0;
    for (long[] e : dirtyMap) {
      for (int k = (int) pos; k < pos + e[0]; k++) {
        if (changed[k]) {
          assertThat(e[1]).as("round %s: byte %d changed since the last flush is dirty", round, k).isEqualTo(1);
        }
      }
      pos += e[0];
    }
    return true;
  }

  List<long[]> extents(ExtentMap map, long off, long len) throws Exception {
    List<long[]> out = new ArrayList<>();
    volume.blockStatus(map, off, len, false, (l, f) -> out.add(new long[] {l, f}));
    return out;
  }
}
