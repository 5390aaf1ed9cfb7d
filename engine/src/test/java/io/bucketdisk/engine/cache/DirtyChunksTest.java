package io.bucketdisk.engine.cache;

import static io.bucketdisk.engine.cache.Parts.CHUNK;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DirtyChunksTest {
  final Parts p = new Parts();
  final List<Long> dirtied = new ArrayList<>();
  final DirtyChunks dirty = new DirtyChunks(p.owner, p.stored, p.shared, dirtied::add, (i, v) -> {});

  @AfterEach
  void invariants() {
    assertThat(dirty.invariantViolations()).isEmpty();
  }

  ChunkBuffer write(long index, int off, byte[] data) throws IOException {
    return dirty.write(index, off, data.length, ByteBuffer.wrap(data), null);
  }

  @Test
  void aPartialWriteRecordsItsRangeChargesItsPagesAndDownloadsNothing() throws Exception {
    p.store.chunks.put(3L, Parts.pattern(CHUNK, 3));
    long stamp = dirty.stamp(3);
    assertThat(write(3, 100, new byte[10])).as("not complete").isNull();
    assertThat(write(3, 200, new byte[10])).isNull();
    long onePage = ChunkBytes.chargeAfter(CHUNK, 100, 10);
    assertThat(onePage).isLessThan(CHUNK / 8);
    assertThat(p.shared.limiter().used()).as("the page both writes landed in, and the page table").isEqualTo(onePage);
    assertThat(dirty.state(3)).isEqualTo(DirtyChunks.State.DATA);
    assertThat(dirty.notDurable(3)).isTrue();
    assertThat(dirty.get(3).valid.missingArray()).hasSize(6);
    assertThat(dirty.stamp(3)).as("entering the set moves the stamp").isNotEqualTo(stamp);
    assertThat(dirtied).as("loads of it are told").containsExactly(3L);
    assertThat(p.store.requests()).isZero();
    assertThat(dirty.atRisk().bytes()).isEqualTo(onePage);
    write(3, ChunkBytes.PAGE - 1, new byte[2]);
    assertThat(p.shared.limiter().used()).as("a write across two pages adds the second")
        .isEqualTo(onePage + ChunkBytes.PAGE);
    write(3, CHUNK / 2, new byte[CHUNK / 2]);
    assertThat(p.shared.limiter().used()).as("past half its pages a chunk is one whole array").isEqualTo(CHUNK);
    assertThat(dirty.get(3).data.isWhole()).isTrue();
    assertThat(dirty.invariantViolations()).isEmpty();
  }

  @Test
  void aWriteThatCompletesTheChunkReturnsItAndAWriteTakesTheCleanBufferOver() throws Exception {
    ChunkBuffer clean = ChunkBuffer.clean(5, Parts.pattern(CHUNK, 5));
    p.shared.admitUploaded(p.key(5), clean);
    assertThat(write(5, 0, new byte[10])).as("a clean buffer is full already").isNull();
    assertThat(dirty.get(5)).isSameAs(clean);
    assertThat(p.shared.contains(p.key(5))).as("never clean and dirty at once").isFalse();
    assertThat(write(6, 0, new byte[CHUNK / 2])).isNull();
    assertThat(write(6, CHUNK / 2, new byte[CHUNK / 2])).isSameAs(dirty.get(6));
  }

  @Test
  void aSmallWriteToACachedChunkTakesItWholeUnlessTheDirtyCapIsHalfUsed() throws Exception {
    for (long i = 1; i <= 2; i++) {
      p.store.chunks.put(i, Parts.pattern(CHUNK, i));
      p.shared.admitUploaded(p.key(i), ChunkBuffer.clean(i, Parts.pattern(CHUNK, i)));
    }
    write(1, 100, new byte[10]);
    assertThat(p.shared.limiter().used()).as("the cached chunk, whole").isEqualTo(CHUNK);
    assertThat(dirty.get(1).valid.isFull()).isTrue();
    assertThat(p.shared.limiter().acquire(2L * CHUNK + 1, 1_000_000_000L)).isTrue(); // now over half of the 6 chunks
    write(2, 100, new byte[10]);
    assertThat(p.shared.limiter().used() - 3L * CHUNK - 1).as("over half the cap: its page only")
        .isEqualTo(ChunkBytes.chargeAfter(CHUNK, 100, 10));
    assertThat(p.shared.contains(p.key(2))).as("its clean copy is gone").isFalse();
    assertThat(dirty.get(2).valid.missingArray()).hasSize(4);
    p.shared.limiter().release(2L * CHUNK + 1);
  }

  @Test
  void zeroingReleasesTheChargeAndCostsNothingWhereNothingIsStored() throws Exception {
    write(1, 0, new byte[] {1});
    dirty.zero(1, null);
    assertThat(dirty.state(1)).isEqualTo(DirtyChunks.State.ZEROED);
    assertThat(p.shared.limiter().used()).isZero();
    dirty.zero(2, null);
    assertThat(dirty.contains(2)).as("neither stored nor cached: already zeros").isFalse();
    p.store.chunks.put(4L, new byte[CHUNK]);
    dirty.zero(4, null);
    assertThat(dirty.state(4)).isEqualTo(DirtyChunks.State.ZEROED);
    write(4, 0, new byte[] {7});
    assertThat(dirty.state(4)).as("a zeroed chunk gets bytes again").isEqualTo(DirtyChunks.State.DATA);
    assertThat(p.shared.limiter().used()).isEqualTo(ChunkBytes.chargeAfter(CHUNK, 0, 1));
    assertThat(dirty.get(4).valid.isFull()).as("the rest still reads as zeros").isTrue();
  }

  @Test
  void onlyAnAcknowledgementOfTheCurrentVersionMakesAChunkClean() throws Exception {
    write(0, 0, new byte[CHUNK]);
    ChunkBuffer b = dirty.get(0);
    List<FlushTarget> targets = dirty.flushTargets();
    assertThat(targets).hasSize(1);
    long v = targets.getFirst().version();
    synchronized (b) {
      b.uploading = true;
      b.uploadVersion = v;
    }
    write(0, 0, new byte[] {1});
    dirty.uploaded(b, v, false);
    assertThat(dirty.contains(0)).as("changed during the upload: stays dirty").isTrue();
    assertThat(b.durableVersion).isEqualTo(v);
    long stamp = dirty.stamp(0);
    dirty.uploaded(b, v + 1, false);
    assertThat(dirty.contains(0)).isFalse();
    assertThat(dirty.stamp(0)).isNotEqualTo(stamp);
    assertThat(p.shared.inCaffeine(p.key(0))).as("clean data goes to Caffeine").isTrue();
    assertThat(p.shared.limiter().used()).isZero();
    assertThat(dirty.flushTargets()).isEmpty();
  }

  @Test
  void aFailedUploadKeepsTheChunkDirtyForARetry() throws Exception {
    write(0, 0, new byte[] {1});
    ChunkBuffer b = dirty.get(0);
    dirty.uploadFailed(b, 1, new IOException("store down"));
    assertThat(dirty.contains(0)).isTrue();
    assertThat(b.failedSeq).isEqualTo(1);
    assertThat(b.failure).hasMessage("store down");
    assertThat(dirty.atRisk().oldestAgeNanos()).isPositive();
    assertThat(dirty.dropAll()).as("closing drops what could not be stored").isEqualTo(1);
    assertThat(p.shared.limiter().used()).isZero();
  }

  @Test
  void whileCleanRunsOnlyIfTheChunkIsNotDirtyAndItsStampHeld() throws Exception {
    long stamp = dirty.stamp(9);
    assertThat(dirty.whileClean(9, stamp, () -> {})).isTrue();
    write(9, 0, new byte[] {1});
    assertThat(dirty.whileClean(9, dirty.stamp(9), () -> {})).as("dirty").isFalse();
    ChunkBuffer b = dirty.get(9);
    long v;
    synchronized (b) {
      v = b.version;
    }
    dirty.zero(9, null);
    dirty.uploaded(b, v + 1, true);
    assertThat(dirty.contains(9)).isFalse();
    assertThat(dirty.whileClean(9, stamp, () -> {})).as("a load that started before the write is stale").isFalse();
  }
}
