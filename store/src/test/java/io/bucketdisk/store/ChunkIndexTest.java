package io.bucketdisk.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class ChunkIndexTest {

  @Test
  void entriesRoundTripTheirFields() {
    long own = ChunkIndex.ownEntry(0xffff_ffffL, true, true, true);
    assertThat(ChunkIndex.epoch(own)).isEqualTo(0xffff_ffffL);
    assertThat(ChunkIndex.has(own, ChunkIndex.PRESENT)).isTrue();
    assertThat(ChunkIndex.has(own, ChunkIndex.TOMBSTONE)).isTrue();
    assertThat(ChunkIndex.has(own, ChunkIndex.OLDER)).isTrue();
    assertThat(ChunkIndex.has(own, ChunkIndex.FRAMED)).isTrue();
    long plain = ChunkIndex.ownEntry(7, false, false, false);
    assertThat(ChunkIndex.has(plain, ChunkIndex.TOMBSTONE)).isFalse();
    assertThat(ChunkIndex.has(plain, ChunkIndex.OLDER)).isFalse();
    assertThat(ChunkIndex.has(plain, ChunkIndex.FRAMED)).isFalse();

    long inh = ChunkIndex.inheritedEntry(200, 42, true);
    assertThat(ChunkIndex.depth(inh)).isEqualTo(200);
    assertThat(ChunkIndex.epoch(inh)).isEqualTo(42);
    assertThat(ChunkIndex.has(inh, ChunkIndex.RESOLVED)).isTrue();
    assertThat(ChunkIndex.has(inh, ChunkIndex.INHERITED_FRAMED)).isTrue();
    assertThat(ChunkIndex.has(ChunkIndex.inheritedEntry(0, 3, false), ChunkIndex.RESOLVED)).isTrue();
  }

  @Test
  void pagesAreAllocatedOnlyWhereWrittenAndGrowKeepsThem() {
    ChunkIndex idx = new ChunkIndex(10_000);
    assertThat(idx.own(9_999)).isZero();
    idx.setOwn(5, ChunkIndex.ownEntry(1, false, false, false));
    idx.setInherited(9_000, ChunkIndex.inheritedEntry(2, 1, false));
    idx.grow(20_000);
    assertThat(idx.chunks()).isEqualTo(20_000);
    assertThat(ChunkIndex.epoch(idx.own(5))).isEqualTo(1);
    assertThat(ChunkIndex.depth(idx.inherited(9_000))).isEqualTo(2);
    idx.setOwn(19_999, ChunkIndex.ownEntry(3, false, false, false));
    assertThat(ChunkIndex.epoch(idx.own(19_999))).isEqualTo(3);
    idx.grow(5); // never shrinks
    assertThat(idx.chunks()).isEqualTo(20_000);
    assertThatThrownBy(() -> idx.setOwn(20_000, 1)).isInstanceOf(IndexOutOfBoundsException.class);
  }
}
