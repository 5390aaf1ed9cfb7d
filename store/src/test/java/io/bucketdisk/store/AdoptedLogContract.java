package io.bucketdisk.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.log.LogSegment;
import io.bucketdisk.store.log.SegmentDirectory;
import io.bucketdisk.store.log.SegmentDirectory.Entry;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A writable open that adopts the write log ({@link VolumeCatalog#openAdoptingLog}): the segments in replay order with
 * their directories, nothing folded; skipped segments deleted; readers of chunk objects still get the log folded.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
abstract class AdoptedLogContract extends CatalogFixture {

  /** {@code zeros} zeros extents of 8 bytes on chunk 2, then {@code data} at its start: a directory of 70 KiB. */
  static ByteBuffer longDirectory(int zeros, byte[] data) {
    var b = new LogSegment.Builder(1 << 20);
    for (int i = 0; i < zeros; i++) {
      b.addZero(2, i * 8, 8);
    }
    b.addData(2, 0, data, 0, data.length);
    ByteBuffer f = b.finish();
    return ByteBuffer.allocate(f.remaining()).put(f.duplicate()).flip();
  }

  static int crc(byte[] b) {
    CRC32C c = new CRC32C();
    c.update(b);
    return (int) c.getValue();
  }

  static byte[] readLog(ChunkStore cs, long seq, int offset, int n) throws Exception {
    ByteBuffer dst = ByteBuffer.allocate(n);
    cs.readLog(seq, offset, dst);
    return dst.array();
  }

  @Test
  void anAdoptingOpenListsTheLogInReplayOrderWithItsDirectoriesAndFoldsNothing() throws Exception {
    catalog.create(spec("v", 3 * CHUNK));
    byte[] x = bytes(300, 1);
    byte[] y = bytes(60_000, 2);
    byte[] z = bytes(50_000, 3);
    byte[] d = bytes(100, 4);
    putSegment("v", 1, 1, segment(0L, 100, x, 1L, 0, CHUNK)); // small: read whole
    putSegment("v", 2, 0, segment(0L, 0, bytes(10, 9))); // a fenced writer's late PUT
    putSegment("v", 2, 1, segment(1L, 5, y, 0L, 1000, z)); // large: header and tail
    putSegment("v", 3, 1, longDirectory(3000, d)); // the directory is longer than the tail read
    try (ChunkStore b = catalog.openAdoptingLog("v", A)) {
      List<SegmentDirectory> log = b.takeAdoptedLog();
      assertThat(b.takeAdoptedLog()).as("handed over once").isEmpty();
      assertThat(log).extracting(SegmentDirectory::seq).containsExactly(1L, 2L, 3L);
      assertThat(log).extracting(SegmentDirectory::epoch).containsOnly(1L);
      for (SegmentDirectory s : log) {
        assertThat(s.bytes()).isEqualTo(store.head(Layout.logKey("v", s.seq(), 1)).orElseThrow().size());
      }
      assertThat(log.get(0).entries()).containsExactly(new Entry(0, 100, 300, false, crc(x), LogSegment.HEADER),
          new Entry(1, 0, CHUNK, true, 0, 0));
      assertThat(log.get(1).entries()).containsExactly(new Entry(1, 5, y.length, false, crc(y), LogSegment.HEADER),
          new Entry(0, 1000, z.length, false, crc(z), LogSegment.HEADER + y.length));
      assertThat(log.get(2).entries()).hasSize(3001).last()
          .isEqualTo(new Entry(2, 0, d.length, false, crc(d), LogSegment.HEADER));
      assertThat(readLog(b, 1, LogSegment.HEADER, x.length)).isEqualTo(x);
      assertThat(readLog(b, 2, LogSegment.HEADER + y.length, z.length)).as("an adopted segment reads like an own one")
          .isEqualTo(z);
      assertThat(b.isStored(0)).as("nothing folded").isFalse();
      assertThat(keys(Layout.chunksPrefix("v"))).isEmpty();
      assertThat(keys(Layout.logPrefix("v"))).as("the late PUT is deleted, the rest stays")
          .containsExactly(Layout.logKey("v", 1, 1), Layout.logKey("v", 2, 1), Layout.logKey("v", 3, 1));
      assertThat(b.nextLogSeq()).isEqualTo(4);
      b.trimLog(2);
      assertThatThrownBy(() -> b.readLog(1, LogSegment.HEADER, ByteBuffer.allocate(10)))
          .isInstanceOfSatisfying(StoreException.class,
              e -> assertThat(e.kind()).isEqualTo(StoreException.Kind.NOT_FOUND));
      assertThat(keys(Layout.logPrefix("v"))).containsExactly(Layout.logKey("v", 3, 1));
    }
    putSegment("v", 4, 1, segment(0L, 100, x, 1L, 5, y));
    try (ChunkStore r = catalog.open("v", A, true)) {
      assertThat(read(r, 2)).as("a reader of chunk objects gets the log folded")
          .isEqualTo(ByteBuffer.allocate(CHUNK).put(0, d));
      assertThat(read(r, 1)).isEqualTo(ByteBuffer.allocate(CHUNK).put(5, y));
    }
    assertThat(keys(Layout.logPrefix("v"))).isEmpty();
  }

  @Test
  void aLogWithSkippedSegmentsPastItsEndIsFoldedNotAdopted() throws Exception {
    catalog.create(spec("v", 2 * CHUNK));
    putSegment("v", 1, 1, segment(0L, 0, bytes(10, 1)));
    putSegment("v", 2, 1, segment(0L, 10, bytes(10, 2)));
    putSegment("v", 4, 1, segment(1L, 0, bytes(10, 4))); // after the missing 3
    try (ChunkStore b = catalog.openAdoptingLog("v", A)) {
      assertThat(b.takeAdoptedLog()).as("new segments after a gap would never be applied").isEmpty();
      assertThat(read(b, 0)).isEqualTo(ByteBuffer.allocate(CHUNK).put(0, bytes(10, 1)).put(10, bytes(10, 2)));
      assertThat(b.isStored(1)).as("the segment after the gap is not applied").isFalse();
      assertThat(keys(Layout.logPrefix("v"))).isEmpty();
      assertThat(b.nextLogSeq()).isEqualTo(5);
    }
  }

  @Test
  void aDamagedSegmentFailsTheAdoptingOpenAndReleasesTheLease() throws Exception {
    catalog.create(spec("v", 3 * CHUNK));
    for (boolean large : new boolean[] {false, true}) {
      ByteBuffer seg = large ? segment(1L, 5, bytes(60_000, 2), 0L, 1000, bytes(50_000, 3))
          : segment(0L, 0, bytes(4096, 1));
      LogSegment.stamp(seg, 1, 1);
      int at = large ? seg.limit() - 16 - 24 : 40; // the last directory entry's chunk, or a data byte
      seg.put(at, (byte) (seg.get(at) ^ 1));
      store.put(Layout.logKey("v", 1, 1), seg);
      assertThatThrownBy(() -> catalog.openAdoptingLog("v", A)).as("large %s", large)
          .isInstanceOf(StoreException.class).hasMessageContaining("damaged");
      assertThat(catalog.get("v").orElseThrow().lease()).as("released after the failed open").isNull();
      assertThat(keys(Layout.logPrefix("v"))).as("nothing deleted").hasSize(1);
    }
  }
}
