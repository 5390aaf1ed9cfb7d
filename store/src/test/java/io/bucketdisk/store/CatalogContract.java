package io.bucketdisk.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.layout.VolumeManifest;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The volume layout and catalog, run against each object store by a subclass. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
abstract class CatalogContract extends CatalogFixture {
  @Test
  void createIsIdempotentAndConflictsOnOtherParameters() throws Exception {
    VolumeManifest m = catalog.create(spec("v1", 10 * CHUNK));
    assertThat(m.epoch()).isEqualTo(1);
    assertThat(catalog.create(spec("v1", 10 * CHUNK))).isEqualTo(m);
    assertThatThrownBy(() -> catalog.create(spec("v1", 11 * CHUNK)))
        .isInstanceOfSatisfying(StoreException.class, e -> assertThat(e.kind()).isEqualTo(StoreException.Kind.CONFLICT))
        .hasMessageContaining("exists with size " + 10 * CHUNK);
    assertThat(catalog.get("v1")).contains(m);
    assertThat(catalog.get("nope")).isEmpty();
    assertThat(catalog.get("../bad")).isEmpty();
    assertThatThrownBy(() -> catalog.create(spec("bad/id", CHUNK))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("[A-Za-z0-9._-]");
    assertThatThrownBy(() -> catalog.create(new VolumeSpec("v2", CHUNK, 3000, Map.of())))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("power of two");
  }

  @Test
  void chunksWriteReadDeleteAndSurviveReopen() throws Exception {
    catalog.create(spec("v", 8 * CHUNK + 100));
    try (ChunkStore cs = catalog.open("v", A, false)) {
      assertThat(cs.size()).isEqualTo(8 * CHUNK + 100);
      assertThat(cs.chunkSize()).isEqualTo(CHUNK);
      assertThat(cs.isStored(3)).isFalse();
      assertThat(cs.read(3, ByteBuffer.allocate(CHUNK))).isFalse();
      cs.write(3, chunk(3));
      cs.write(8, chunk(8));
      assertThat(read(cs, 3)).isEqualTo(chunk(3));
      assertThat(cs.isStored(3)).isTrue();
      assertThat(cs.depth(3)).isEqualTo(1);
      ByteBuffer part = ByteBuffer.allocate(100);
      assertThat(cs.readRange(3, 1000, part)).isTrue();
      assertThat(part.flip()).isEqualTo(chunk(3).position(1000).limit(1100));
      cs.write(3, chunk(33));
      assertThat(read(cs, 3)).isEqualTo(chunk(33));
      cs.delete(new long[] {8, 5}, 2);
      assertThat(cs.isStored(8)).isFalse();
    }
    assertThat(keys(Layout.chunksPrefix("v"))).containsExactly(Layout.chunkKey("v", 3, 1));
    try (ChunkStore cs = catalog.open("v", A, true)) {
      assertThat(cs.readOnly()).isTrue();
      assertThat(read(cs, 3)).isEqualTo(chunk(33));
      assertThat(cs.isStored(8)).isFalse();
      assertThatThrownBy(() -> cs.write(1, chunk(1))).isInstanceOf(StoreException.class)
          .hasMessageContaining("read-only");
    }
  }

  @Test
  void zeroChunksAreNeverStored() throws Exception {
    catalog.create(spec("z", 4 * CHUNK));
    try (ChunkStore cs = catalog.open("z", A, false)) {
      cs.write(0, ByteBuffer.allocate(CHUNK));
      assertThat(keys(Layout.chunksPrefix("z"))).isEmpty();
      cs.write(1, chunk(1));
      cs.write(1, ByteBuffer.allocateDirect(CHUNK));
      assertThat(keys(Layout.chunksPrefix("z"))).isEmpty();
      assertThat(cs.isStored(1)).isFalse();
    }
  }

  @Test
  void snapshotsAreIsolatedFromLaterWrites() throws Exception {
    catalog.create(spec("v", 4 * CHUNK));
    try (ChunkStore cs = catalog.open("v", A, false)) {
      cs.write(0, chunk(10));
      cs.write(1, chunk(11));
      cs.snapshot("s1");
      cs.write(0, chunk(20));
      cs.delete(new long[] {1}, 1);
      cs.write(2, chunk(22));
      assertThat(read(cs, 0)).isEqualTo(chunk(20));
      assertThat(cs.isStored(1)).isFalse();
      try (ChunkStore snap = catalog.openSnapshot("s1")) {
        assertThat(snap.volumeId()).isEqualTo("s1");
        assertThat(snap.readOnly()).isTrue();
        assertThat(read(snap, 0)).isEqualTo(chunk(10));
        assertThat(read(snap, 1)).isEqualTo(chunk(11));
        assertThat(snap.isStored(2)).isFalse();
      }
      cs.snapshot("s2");
      cs.write(0, chunk(30));
    }
    // a fresh handle rebuilds the same picture from one LIST
    try (ChunkStore cs = catalog.open("v", A, false)) {
      assertThat(read(cs, 0)).isEqualTo(chunk(30));
      assertThat(cs.isStored(1)).isFalse();
      assertThat(read(cs, 2)).isEqualTo(chunk(22));
    }
    try (ChunkStore s2 = catalog.openSnapshot("s2")) {
      assertThat(read(s2, 0)).isEqualTo(chunk(20));
      assertThat(s2.isStored(1)).isFalse();
    }
    assertThat(catalog.listSnapshots("v", 10, null).items()).extracting(r -> r.id()).containsExactly("s1", "s2");
    var first = catalog.listSnapshots("v", 1, null);
    assertThat(first.items()).extracting(r -> r.id()).containsExactly("s1");
    assertThat(catalog.listSnapshots("v", 1, first.nextToken()).items()).extracting(r -> r.id())
        .containsExactly("s2");
    assertThat(catalog.listSnapshots(null, 10, null).items()).hasSize(2);

    catalog.deleteSnapshot("s1");
    assertThat(catalog.getSnapshot("s1")).isEmpty();
    try (ChunkStore s2 = catalog.openSnapshot("s2")) {
      assertThat(read(s2, 0)).isEqualTo(chunk(20));
    }
    // chunk 0's epoch-1 version and chunk 1's were only needed by s1
    assertThat(keys(Layout.chunksPrefix("v"))).doesNotContain(Layout.chunkKey("v", 0, 1), Layout.chunkKey("v", 1, 1));
    catalog.deleteSnapshot("s1"); // idempotent
  }

  @Test
  void snapshotOfAVolumeHeldByAnotherOwnerIsRefused() throws Exception {
    catalog.create(spec("v", CHUNK));
    try (ChunkStore _ = catalog.open("v", A, false)) {
      assertThatThrownBy(() -> catalog.snapshot("v", "s")).isInstanceOfSatisfying(StoreException.class,
          e -> assertThat(e.kind()).isEqualTo(StoreException.Kind.CONFLICT)).hasMessageContaining("gw-a");
    }
    assertThat(catalog.snapshot("v", "s").epoch()).isEqualTo(1);
    assertThat(catalog.snapshot("v", "s").epoch()).isEqualTo(1);
    catalog.create(spec("w", CHUNK));
    assertThatThrownBy(() -> catalog.snapshot("w", "s")).hasMessageContaining("taken by a snapshot of volume v");
  }

  @Test
  void clonesReadThroughToTheirParent() throws Exception {
    catalog.create(spec("base", 4 * CHUNK));
    try (ChunkStore cs = catalog.open("base", A, false)) {
      cs.write(0, chunk(1));
      cs.write(1, chunk(2));
      cs.write(2, chunk(3));
    }
    catalog.snapshot("base", "gold");
    VolumeManifest clone = catalog.createFromSnapshot(spec("c1", 6 * CHUNK), "gold");
    assertThat(clone.parent()).isNotNull();
    assertThat(catalog.createFromSnapshot(spec("c1", 6 * CHUNK), "gold")).isEqualTo(clone);
    try (ChunkStore cs = catalog.open("c1", B, false)) {
      assertThat(cs.size()).isEqualTo(6 * CHUNK);
      assertThat(read(cs, 0)).isEqualTo(chunk(1));
      assertThat(cs.depth(0)).isEqualTo(2);
      cs.write(1, chunk(99));
      assertThat(cs.depth(1)).isEqualTo(1);
      cs.delete(new long[] {2}, 1);
      assertThat(cs.isStored(2)).isFalse();
      assertThat(cs.depth(2)).isZero();
      assertThat(read(cs, 2)).isEqualTo(ByteBuffer.allocate(CHUNK));
      assertThat(cs.depth(5)).isZero();
    }
    try (ChunkStore base = catalog.open("base", A, true)) {
      assertThat(read(base, 1)).isEqualTo(chunk(2));
      assertThat(read(base, 2)).isEqualTo(chunk(3));
    }
    // a clone of the clone: three layers
    VolumeManifest c2 = catalog.createFromVolume(spec("c2", 6 * CHUNK), "c1");
    assertThat(catalog.createFromVolume(spec("c2", 6 * CHUNK), "c1")).isEqualTo(c2);
    try (ChunkStore cs = catalog.open("c2", A, true)) {
      assertThat(cs.depth(0)).isEqualTo(3);
      assertThat(read(cs, 0)).isEqualTo(chunk(1));
      assertThat(cs.depth(1)).isEqualTo(2);
      assertThat(read(cs, 1)).isEqualTo(chunk(99));
      assertThat(cs.isStored(2)).isFalse();
    }
    assertThatThrownBy(() -> catalog.createFromSnapshot(spec("c3", CHUNK), "gold"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("smaller than snapshot");
    assertThatThrownBy(() -> catalog.createFromSnapshot(spec("c3", 4 * CHUNK), "nope"))
        .isInstanceOfSatisfying(StoreException.class, e -> assertThat(e.kind()).isEqualTo(StoreException.Kind.NOT_FOUND));
  }

  @Test
  void trimmingAWholeCloneHidesEveryInheritedChunk() throws Exception {
    catalog.create(spec("p", 24 * CHUNK));
    try (ChunkStore cs = catalog.open("p", A, false)) {
      for (int i = 0; i < 24; i++) {
        cs.write(i, chunk(i));
      }
    }
    catalog.snapshot("p", "ps");
    catalog.createFromSnapshot(spec("pc", 24 * CHUNK), "ps");
    long[] all = new long[24];
    for (int i = 0; i < 24; i++) {
      all[i] = i;
    }
    try (ChunkStore cs = catalog.open("pc", B, false)) {
      cs.write(3, chunk(300));
      cs.delete(all, 24);
      for (int i = 0; i < 24; i++) {
        assertThat(cs.isStored(i)).isFalse();
      }
    }
    try (ChunkStore cs = catalog.open("pc", B, true)) {
      for (int i = 0; i < 24; i++) {
        assertThat(cs.depth(i)).isZero();
      }
    }
    assertThat(keys(Layout.chunksPrefix("pc"))).hasSize(24);
    try (ChunkStore ps = catalog.openSnapshot("ps")) {
      assertThat(read(ps, 23)).isEqualTo(chunk(23));
    }
  }

  @Test
  void cloneFromAVolumeOpenElsewhereIsRefused() throws Exception {
    catalog.create(spec("src", CHUNK));
    try (ChunkStore _ = catalog.open("src", A, false)) {
      assertThatThrownBy(() -> catalog.createFromVolume(spec("cl", CHUNK), "src"))
          .isInstanceOfSatisfying(StoreException.class, e -> assertThat(e.kind()).isEqualTo(StoreException.Kind.CONFLICT));
    }
  }

  @Test
  void deletingWithDependentsKeepsThemReadableThenCleansUp() throws Exception {
    catalog.create(spec("v", 4 * CHUNK));
    try (ChunkStore cs = catalog.open("v", A, false)) {
      cs.write(0, chunk(5));
      cs.snapshot("snap");
      cs.write(0, chunk(6));
      cs.write(1, chunk(7));
    }
    catalog.delete("v");
    assertThat(catalog.get("v")).isEmpty();
    assertThat(catalog.list(100, null).items()).isEmpty();
    assertThatThrownBy(() -> catalog.create(spec("v", 4 * CHUNK))).hasMessageContaining("deleted volume");
    try (ChunkStore s = catalog.openSnapshot("snap")) {
      assertThat(read(s, 0)).isEqualTo(chunk(5));
    }
    // the live data nobody can read any more is gone already
    assertThat(keys(Layout.chunksPrefix("v"))).containsExactly(Layout.chunkKey("v", 0, 1));

    catalog.createFromSnapshot(spec("clone", 4 * CHUNK), "snap");
    catalog.deleteSnapshot("snap");
    assertThat(catalog.getSnapshot("snap")).isEmpty();
    try (ChunkStore c = catalog.open("clone", B, false)) {
      assertThat(read(c, 0)).isEqualTo(chunk(5));
    }
    catalog.delete("clone");
    catalog.delete("clone");
    assertThat(keys("")).as("everything is gone once the last dependent is").isEmpty();
  }

  @Test
  void deleteRemovesEveryObjectAndIsIdempotent() throws Exception {
    catalog.create(spec("d", 20 * CHUNK));
    try (ChunkStore cs = catalog.open("d", A, false)) {
      for (int i = 0; i < 20; i++) {
        cs.write(i, chunk(i));
      }
      assertThatThrownBy(() -> catalog.delete("d")).isInstanceOfSatisfying(StoreException.class,
          e -> assertThat(e.kind()).isEqualTo(StoreException.Kind.CONFLICT)).hasMessageContaining("open on gateway");
    }
    catalog.delete("d");
    catalog.delete("d");
    assertThat(keys("")).isEmpty();
  }

  @Test
  void twoOwnersCannotBothHoldTheLease() throws Exception {
    catalog.create(spec("v", CHUNK));
    try (ChunkStore a = catalog.open("v", A, false)) {
      assertThatThrownBy(() -> catalog.open("v", B, false)).isInstanceOfSatisfying(StoreException.class,
          e -> assertThat(e.kind()).isEqualTo(StoreException.Kind.CONFLICT)).hasMessageContaining("gw-a");
      try (ChunkStore r = catalog.open("v", B, true)) {
        assertThat(r.readOnly()).isTrue();
      }
      assertThat(catalog.get("v").orElseThrow().lease().ownerAddress()).isEqualTo(A.address());
      a.write(0, chunk(1));
    }
    assertThat(catalog.get("v").orElseThrow().lease()).isNull();
    try (ChunkStore b = catalog.open("v", B, false)) {
      assertThat(read(b, 0)).isEqualTo(chunk(1));
    }
  }

  @Test
  void aDamagedChunkObjectFailsItsReadsAndNeverServesWrongBytes() throws Exception {
    catalog.create(new VolumeSpec("v", 4L << 20, 1 << 20, Map.of()));
    byte[] data = new byte[1 << 20];
    new Random(9).nextBytes(data);
    try (ChunkStore cs = catalog.open("v", A, false)) {
      cs.write(1, ByteBuffer.wrap(data));
    }
    String key = keys(Layout.chunksPrefix("v")).getFirst();
    byte[] object = store.get(key).orElseThrow().bytes();
    assertThat(object).as("the object carries a CRC32C per 64 KiB").hasSize((1 << 20) + 16 * 4);
    object[(int) ChunkFrames.offsetOf(3, 1 << 20) + 100] ^= 1; // one bit of granule 3, as a disk might flip it
    store.put(key, ByteBuffer.wrap(object));
    try (ChunkStore cs = catalog.open("v", B, true)) {
      ByteBuffer fine = ByteBuffer.allocate(4096);
      assertThat(cs.readRange(1, 65536, fine)).isTrue();
      assertThat(fine.array()).isEqualTo(java.util.Arrays.copyOfRange(data, 65536, 65536 + 4096));
      ByteBuffer hit = ByteBuffer.allocate(4096);
      assertThatThrownBy(() -> cs.readRange(1, 3 * 65536 + 4096, hit)).isInstanceOfSatisfying(StoreException.class,
          e -> {
            assertThat(e.kind()).isEqualTo(StoreException.Kind.PERMANENT);
            assertThat(e.getMessage()).contains("volume v", key, "CRC32C mismatch", "196608..262143");
          });
      assertThat(hit.position()).as("nothing served").isZero();
      assertThatThrownBy(() -> cs.read(1, ByteBuffer.allocate(1 << 20))).hasMessageContaining("CRC32C mismatch");
    }
  }

  @Test
  void aChunkObjectWithoutChecksumsIsStillRead() throws Exception {
    catalog.create(new VolumeSpec("old", 2L << 20, 1 << 20, Map.of()));
    byte[] data = new byte[1 << 20];
    new Random(10).nextBytes(data);
    store.put(Layout.chunkKey("old", 0, 1), ByteBuffer.wrap(data)); // as written before checksums
    try (ChunkStore cs = catalog.open("old", A, true)) {
      ByteBuffer dst = ByteBuffer.allocate(8192);
      assertThat(cs.readRange(0, 500_000, dst)).isTrue();
      assertThat(dst.array()).isEqualTo(java.util.Arrays.copyOfRange(data, 500_000, 508_192));
    }
  }

  @Test
  void aWriterReadsRangesOfItsOwnSegmentsBackUntilTheyAreTrimmed() throws Exception {
    catalog.create(spec("v", 2 * CHUNK));
    try (ChunkStore a = catalog.open("v", A, false)) {
      byte[] data = bytes(1000, 4);
      var builder = new io.bucketdisk.store.log.LogSegment.Builder(1 << 20);
      int at = builder.position();
      builder.addData(1L, 100, data, 0, data.length);
      ByteBuffer f = builder.finish();
      long seq = a.nextLogSeq();
      a.appendLog(seq, ByteBuffer.allocate(f.remaining()).put(f.duplicate()).flip());
      ByteBuffer dst = ByteBuffer.allocate(200);
      a.readLog(seq, at + 300, dst);
      assertThat(dst.array()).isEqualTo(java.util.Arrays.copyOfRange(data, 300, 500));
      a.trimLog(seq);
      assertThatThrownBy(() -> a.readLog(seq, at, ByteBuffer.allocate(10)))
          .isInstanceOfSatisfying(StoreException.class,
              e -> assertThat(e.kind()).isEqualTo(StoreException.Kind.NOT_FOUND));
    }
  }

  @Test
  void aLogLeftByACrashedWriterIsReplayedInOrderIntoTheChunksAtTheNextOpen() throws Exception {
    catalog.create(spec("v", 3 * CHUNK));
    LeaseOwner first = LeaseOwner.instance("node-1", "unix:///run/a.sock", java.util.Set.of());
    ChunkStore a = catalog.open("v", first, false);
    a.write(0, chunk(1));
    a.write(2, chunk(2));
    assertThat(a.nextLogSeq()).isEqualTo(1);
    byte[] x = bytes(300, 3);
    byte[] y = bytes(100, 4);
    a.appendLog(1, segment(0L, 100, x, 1L, 5, y));
    a.appendLog(2, segment(0L, 150, y, 2L, 0, CHUNK));
    assertThat(keys(Layout.logPrefix("v"))).hasSize(2);
    // the process dies (the handle is never closed); its successor on the node takes the lease over at once
    LeaseOwner successor = LeaseOwner.instance("node-1", "unix:///run/a.sock", java.util.Set.of(first.id()));
    try (ChunkStore b = catalog.open("v", successor, false)) {
      ByteBuffer c0 = chunk(1);
      c0.put(100, x).put(150, y);
      assertThat(read(b, 0)).as("segment 2 applied after segment 1").isEqualTo(c0);
      ByteBuffer c1 = ByteBuffer.allocate(CHUNK).put(5, y);
      assertThat(read(b, 1)).as("a chunk only the log had").isEqualTo(c1);
      assertThat(b.isStored(2)).as("a zeros extent over the whole chunk deletes it").isFalse();
      assertThat(keys(Layout.logPrefix("v"))).as("the replayed log is gone").isEmpty();
      assertThat(b.nextLogSeq()).as("the new writer numbers after the old log").isEqualTo(3);
    } finally {
      a.close();
    }
  }

  @Test
  void replaySkipsAFencedWritersLatePutAndEverythingAfterAGap() throws Exception {
    catalog.create(spec("v", 2 * CHUNK));
    putSegment("v", 1, 1, segment(0L, 0, bytes(10, 1)));
    putSegment("v", 2, 1, segment(0L, 10, bytes(10, 2)));
    putSegment("v", 3, 0, segment(0L, 0, bytes(20, 3))); // epoch below one already taken: a late PUT
    putSegment("v", 5, 1, segment(1L, 0, bytes(10, 5))); // after the missing 4
    try (ChunkStore b = catalog.open("v", A, false)) {
      ByteBuffer c0 = ByteBuffer.allocate(CHUNK).put(0, bytes(10, 1)).put(10, bytes(10, 2));
      assertThat(read(b, 0)).isEqualTo(c0);
      assertThat(b.isStored(1)).as("the segment after the gap is not applied").isFalse();
      assertThat(keys(Layout.logPrefix("v"))).as("skipped segments are removed too").isEmpty();
      assertThat(b.nextLogSeq()).isEqualTo(6);
    }
  }

  @Test
  void aDamagedLogSegmentFailsTheOpenAndReleasesTheLease() throws Exception {
    catalog.create(spec("v", 2 * CHUNK));
    ByteBuffer seg = segment(0L, 0, bytes(4096, 1));
    seg.put(40, (byte) (seg.get(40) ^ 1));
    putSegment("v", 1, 1, seg);
    assertThatThrownBy(() -> catalog.open("v", A, false)).isInstanceOf(StoreException.class)
        .hasMessageContaining("damaged");
    assertThat(catalog.get("v").orElseThrow().lease()).as("released after the failed open").isNull();
    assertThat(keys(Layout.logPrefix("v"))).as("nothing deleted").hasSize(1);
  }

  @Test
  void aReaderOfAVolumeWhoseWriterIsGoneSeesTheLogFolded() throws Exception {
    catalog.create(spec("v", 2 * CHUNK));
    putSegment("v", 1, 1, segment(1L, 7, bytes(10, 1)));
    try (ChunkStore r = catalog.open("v", A, true)) {
      assertThat(read(r, 1)).isEqualTo(ByteBuffer.allocate(CHUNK).put(7, bytes(10, 1)));
    }
    assertThat(keys(Layout.logPrefix("v"))).isEmpty();
    // and an offline snapshot sees it too
    putSegment("v", 1, 1, segment(0L, 3, bytes(5, 2)));
    catalog.snapshot("v", "s");
    try (ChunkStore s = catalog.openSnapshot("s")) {
      assertThat(read(s, 0)).isEqualTo(ByteBuffer.allocate(CHUNK).put(3, bytes(5, 2)));
    }
  }

  @Test
  void anExpiredLeaseCanBeTakenOver() throws Exception {
    catalog.create(spec("v", CHUNK));
    catalog.acquireLease("v", A);
    assertThatThrownBy(() -> catalog.acquireLease("v", B)).isInstanceOf(StoreException.class);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    VolumeManifest m = null;
    while (m == null && System.nanoTime() < deadline) {
      try {
        m = catalog.acquireLease("v", B);
      } catch (StoreException e) {
        Thread.sleep(100);
      }
    }
    assertThat(m).isNotNull();
    assertThat(m.lease().ownerId()).isEqualTo("gw-b");
    assertThat(m.epoch()).as("a takeover moves to a new epoch").isEqualTo(2);
    assertThat(catalog.acquireLease("v", B).epoch()).as("renewal does not").isEqualTo(2);
  }

  @Test
  void twoProcessesWithOneNodeNameNeverShareALeaseButASuccessorTakesOverAtOnce() throws Exception {
    catalog.create(spec("v", CHUNK));
    LeaseOwner first = LeaseOwner.instance("node-1", "unix:///run/a.sock", java.util.Set.of());
    LeaseOwner second = LeaseOwner.instance("node-1", "unix:///run/a.sock", java.util.Set.of());
    assertThat(first.id()).startsWith("node-1#").isNotEqualTo(second.id());
    catalog.acquireLease("v", first);
    assertThatThrownBy(() -> catalog.acquireLease("v", second)).isInstanceOf(StoreException.class)
        .hasMessageContaining("is held by gateway " + first.id()).hasMessageContaining("one gateway per node");
    // the process that replaces a dead one (it holds the node's instance lock) does not wait for the expiry
    LeaseOwner successor = LeaseOwner.instance("node-1", "unix:///run/a.sock", java.util.Set.of(first.id()));
    VolumeManifest m = catalog.acquireLease("v", successor);
    assertThat(m.lease().ownerId()).isEqualTo(successor.id());
    assertThat(m.epoch()).as("the takeover fences what the dead process left in flight").isEqualTo(2);
    assertThatThrownBy(() -> catalog.acquireLease("v", first)).isInstanceOf(StoreException.class);
  }

  @Test
  void aFencedWriterIsRefusedAfterTakeover() throws Exception {
    catalog.create(spec("v", 2 * CHUNK));
    ChunkStore a = catalog.open("v", A, false);
    a.write(0, chunk(1));
    a.appendLog(a.nextLogSeq(), segment(1L, 0, bytes(10, 3)));
    // B's clock runs an hour ahead, so it sees A's lease as expired and takes over at once
    var bCatalog = new VolumeCatalog(store, options().withClock(Clock.offset(Clock.systemUTC(), Duration.ofHours(1))));
    bCatalog.acquireLease("v", B);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    StoreException refused = null;
    while (refused == null && System.nanoTime() < deadline) {
      try {
        a.write(1, chunk(2));
        Thread.sleep(20);
      } catch (StoreException e) {
        refused = e;
      }
    }
    assertThat(refused).isNotNull();
    assertThat(refused.kind()).isEqualTo(StoreException.Kind.CONFLICT);
    assertThat(refused.getMessage()).contains("fenced");
    assertThatThrownBy(() -> a.delete(new long[] {0}, 1)).hasMessageContaining("fenced");
    assertThatThrownBy(() -> a.snapshot("x")).hasMessageContaining("fenced");
    assertThatThrownBy(() -> a.appendLog(a.nextLogSeq(), segment(0L, 0, bytes(10, 1))))
        .as("a fenced writer stores no log segment").hasMessageContaining("fenced");
    assertThatThrownBy(() -> a.trimLog(Long.MAX_VALUE))
        .as("nor deletes one: the next writer may be listing the log for its replay").hasMessageContaining("fenced");
    assertThat(keys(Layout.logPrefix("v"))).as("only the segment A stored before the takeover").hasSize(1);
    a.close();
    assertThat(catalog.get("v").orElseThrow().lease().ownerId()).isEqualTo("gw-b");
    // the new owner sees what A wrote before the takeover, and writes at the new epoch
    try (ChunkStore b = bCatalog.open("v", B, false)) {
      assertThat(read(b, 0)).isEqualTo(chunk(1));
      b.write(0, chunk(9));
    }
    assertThat(keys(Layout.chunksPrefix("v"))).contains(Layout.chunkKey("v", 0, 2))
        .doesNotContain(Layout.chunkKey("v", 0, 1));
  }

  @Test
  void resizeGrowsAndOpenHandlesSeeItAfterRefresh() throws Exception {
    catalog.create(spec("v", 2 * CHUNK));
    try (ChunkStore cs = catalog.open("v", A, false)) {
      assertThat(catalog.resize("v", 5 * CHUNK).sizeBytes()).isEqualTo(5 * CHUNK);
      assertThat(cs.size()).isEqualTo(2 * CHUNK);
      cs.refresh();
      assertThat(cs.size()).isEqualTo(5 * CHUNK);
      cs.write(4, chunk(4));
      assertThat(read(cs, 4)).isEqualTo(chunk(4));
    }
    assertThat(catalog.resize("v", 5 * CHUNK).sizeBytes()).isEqualTo(5 * CHUNK);
    assertThatThrownBy(() -> catalog.resize("v", CHUNK)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("shrinking");
  }

  @Test
  void listIsPagedAndSkipsDeletedVolumes() throws Exception {
    for (int i = 0; i < 5; i++) {
      catalog.create(spec("vol-" + i, CHUNK));
    }
    catalog.delete("vol-2");
    List<String> seen = new ArrayList<>();
    String token = null;
    int pages = 0;
    do {
      var page = catalog.list(2, token);
      page.items().forEach(m -> seen.add(m.id()));
      token = page.nextToken();
    } while (token != null && ++pages < 10);
    assertThat(seen).containsExactly("vol-0", "vol-1", "vol-3", "vol-4");
  }

  @Test
  void publicationsAreRecorded() throws Exception {
    catalog.create(spec("v", CHUNK));
    catalog.publish("v", "node-1", false);
    catalog.publish("v", "node-1", false);
    assertThatThrownBy(() -> catalog.publish("v", "node-1", true)).isInstanceOf(StoreException.class);
    assertThatThrownBy(() -> catalog.publish("v", "node-2", false, true)).hasMessageContaining("node-1");
    catalog.publish("v", "node-2", true, true);
    assertThat(catalog.get("v").orElseThrow().publications()).containsOnlyKeys("node-1", "node-2");
    catalog.unpublish("v", "node-1");
    catalog.unpublish("v", "node-1");
    catalog.unpublish("gone", "node-1");
    assertThat(catalog.get("v").orElseThrow().publications()).containsOnlyKeys("node-2");
  }
}
