package io.bucketdisk.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.log.LogRef;
import io.bucketdisk.store.log.LogSegment;
import io.bucketdisk.store.log.SegmentDirectory;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Merged log segments ({@link ChunkStore#mergeLog}): one segment in place of a run, read, adopted and replayed like
 * the run, whichever of the originals a crash left beside it; a fenced writer's merge never lands.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
abstract class MergedLogContract extends CatalogFixture {
  final byte[] a = bytes(1000, 1);
  final byte[] b = bytes(500, 2);
  final byte[] c = bytes(1000, 3);
  final byte[] d = bytes(300, 4);
  final byte[] e = bytes(200, 5);

  /** Segments 1 to 4: each overlaps an older one, and segment 4 writes again part of what segment 2 wrote. */
  List<ByteBuffer> originals() {
    return List.of(segment(0L, 0, a, 1L, 100, b), segment(0L, 500, c), segment(0L, 0, 200, 1L, 0, d),
        segment(0L, 900, e));
  }

  /** Segments 2 and 3 merged: c less what segment 4 writes again ([900, 1100) of chunk 0), then segment 3. */
  ByteBuffer merged() {
    var s = new LogSegment.Builder(1 << 20);
    s.addData(0, 500, c, 0, 400);
    s.addData(0, 1100, c, 600, 400);
    s.addZero(0, 0, 200);
    s.addData(1, 0, d, 0, d.length);
    ByteBuffer f = s.finish();
    return ByteBuffer.allocate(f.remaining()).put(f.duplicate()).flip();
  }

  /** The volume's bytes after segments 1 to 4, in order. */
  byte[] model() {
    byte[] m = new byte[2 * CHUNK];
    System.arraycopy(a, 0, m, 0, a.length);
    System.arraycopy(b, 0, m, CHUNK + 100, b.length);
    System.arraycopy(c, 0, m, 500, c.length);
    Arrays.fill(m, 0, 200, (byte) 0);
    System.arraycopy(d, 0, m, CHUNK, d.length);
    System.arraycopy(e, 0, m, 900, e.length);
    return m;
  }

  /** A writer that stored segments 1 to 4 and the merge of 2 and 3 (left open: the caller drops or crashes). */
  ChunkStore writerWithMerge(String volume) throws Exception {
    catalog.create(spec(volume, 2 * CHUNK));
    ChunkStore w = catalog.openAdoptingLog(volume, A);
    for (ByteBuffer s : originals()) {
      w.appendLog(w.nextLogSeq(), s);
    }
    w.mergeLog(2, 3, merged());
    return w;
  }

  /** What an adopting writer reads: each adopted extent's bytes from its segment, in log order. */
  static byte[] adoptedImage(ChunkStore cs, List<SegmentDirectory> adopted) throws Exception {
    byte[] m = new byte[2 * CHUNK];
    for (SegmentDirectory s : adopted) {
      for (SegmentDirectory.Entry x : s.entries()) {
        int at = (int) (x.chunk() * CHUNK + x.offset());
        if (x.zero()) {
          Arrays.fill(m, at, at + x.length(), (byte) 0);
        } else {
          cs.readLog(s.first(), s.seq(), x.dataOffset(), ByteBuffer.wrap(m, at, x.length()));
        }
      }
    }
    return m;
  }

  static byte[] chunkImage(ChunkStore cs) throws Exception {
    byte[] m = new byte[2 * CHUNK];
    read(cs, 0).get(m, 0, CHUNK);
    read(cs, 1).get(m, CHUNK, CHUNK);
    return m;
  }

  String mergedKey(String volume) {
    return Layout.logKey(volume, new LogRef(2, 3, 1));
  }

  @Test
  void aMergedSegmentTakesItsRunsPlaceForReadsAdoptionAndReplay() throws Exception {
    try (ChunkStore w = writerWithMerge("v")) {
      ByteBuffer dst = ByteBuffer.allocate(400);
      w.readLog(2, 3, LogSegment.HEADER, dst);
      assertThat(dst.array()).isEqualTo(Arrays.copyOf(c, 400));
      w.readLog(2, LogSegment.HEADER, ByteBuffer.allocate(10)); // the originals stay readable until dropped
      w.dropMerged(2, 3);
      assertThatThrownBy(() -> w.readLog(2, LogSegment.HEADER, ByteBuffer.allocate(10)))
          .as("a dropped original: the reader looks its extents up again")
          .isInstanceOfSatisfying(StoreException.class,
              x -> assertThat(x.kind()).isEqualTo(StoreException.Kind.NOT_FOUND));
      assertThat(keys(Layout.logPrefix("v"))).containsExactlyInAnyOrder(Layout.logKey("v", 1, 1), mergedKey("v"),
          Layout.logKey("v", 4, 1));
    }
    try (ChunkStore w = catalog.openAdoptingLog("v", A)) {
      List<SegmentDirectory> adopted = w.takeAdoptedLog();
      assertThat(adopted).extracting(SegmentDirectory::first).containsExactly(1L, 2L, 4L);
      assertThat(adopted).extracting(SegmentDirectory::seq).containsExactly(1L, 3L, 4L);
      assertThat(adoptedImage(w, adopted)).as("adopted").isEqualTo(model());
      assertThat(w.nextLogSeq()).isEqualTo(5);
    }
    try (ChunkStore r = catalog.open("v", A, true)) {
      assertThat(chunkImage(r)).as("replayed").isEqualTo(model());
    }
    assertThat(keys(Layout.logPrefix("v"))).isEmpty();
  }

  @Test
  void aCrashBetweenTheMergedPutAndItsDeletesReopensTheSame() throws Exception {
    for (int deleted = 0; deleted <= 2; deleted++) {
      String v = "v" + deleted;
      ChunkStore w = writerWithMerge(v);
      for (long seq = 2; seq < 2 + deleted; seq++) { // the deletes that ran before the crash
        store.delete(List.of(Layout.logKey(v, seq, 1)));
      }
      w.close(); // the lease goes; the log is as a SIGKILL would leave it
      try (ChunkStore x = catalog.openAdoptingLog(v, A)) {
        List<SegmentDirectory> adopted = x.takeAdoptedLog();
        assertThat(adopted).as("%d deleted", deleted).extracting(SegmentDirectory::first)
            .containsExactly(1L, 2L, 4L);
        assertThat(adoptedImage(x, adopted)).as("adopted after %d deletes", deleted).isEqualTo(model());
        assertThat(keys(Layout.logPrefix(v))).as("the adoption deletes the originals").containsExactlyInAnyOrder(
            Layout.logKey(v, 1, 1), mergedKey(v), Layout.logKey(v, 4, 1));
      }
      w = catalog.openAdoptingLog(v, A);
      for (long seq = 2; seq <= 3; seq++) { // put the originals back: replay must take the merged one all the same
        ByteBuffer s = originals().get((int) seq - 1);
        LogSegment.stamp(s, seq, 1);
        store.put(Layout.logKey(v, seq, 1), s);
      }
      w.close();
      try (ChunkStore r = catalog.open(v, A, true)) {
        assertThat(chunkImage(r)).as("replayed after %d deletes", deleted).isEqualTo(model());
      }
      assertThat(keys(Layout.logPrefix(v))).isEmpty();
    }
  }

  @Test
  void aTrimDeletesAMergedSegmentWithItsWholeRange() throws Exception {
    try (ChunkStore w = writerWithMerge("v")) {
      w.trimLog(2);
      assertThat(keys(Layout.logPrefix("v"))).as("the merged segment still holds 3")
          .contains(mergedKey("v")).doesNotContain(Layout.logKey("v", 1, 1), Layout.logKey("v", 2, 1));
      w.trimLog(3);
      assertThat(keys(Layout.logPrefix("v"))).containsExactly(Layout.logKey("v", 4, 1));
      assertThatThrownBy(() -> w.readLog(2, 3, LogSegment.HEADER, ByteBuffer.allocate(10)))
          .isInstanceOf(StoreException.class);
    }
  }

  @Test
  void aFencedWritersMergeIsNeverStored() throws Exception {
    catalog.create(spec("v", 2 * CHUNK));
    ChunkStore w = catalog.openAdoptingLog("v", A);
    for (ByteBuffer s : originals()) {
      w.appendLog(w.nextLogSeq(), s);
    }
    var other = new VolumeCatalog(store, options().withClock(Clock.offset(Clock.systemUTC(), Duration.ofHours(1))));
    other.acquireLease("v", B); // B sees A's lease as expired
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (w.leaseValidSeconds() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThatThrownBy(() -> w.mergeLog(2, 3, merged())).hasMessageContaining("fenced");
    assertThatThrownBy(() -> w.dropMerged(2, 3)).hasMessageContaining("fenced");
    assertThat(keys(Layout.logPrefix("v"))).as("the originals only").containsExactlyInAnyOrder(
        Layout.logKey("v", 1, 1), Layout.logKey("v", 2, 1), Layout.logKey("v", 3, 1), Layout.logKey("v", 4, 1));
    w.close();
    try (ChunkStore x = other.openAdoptingLog("v", B)) {
      assertThat(adoptedImage(x, x.takeAdoptedLog())).isEqualTo(model());
    }
  }
}
