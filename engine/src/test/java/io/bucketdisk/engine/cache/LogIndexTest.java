package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

class LogIndexTest {
  static LogIndex.Extent data(int start, int end, long seq, long version) {
    return new LogIndex.Extent(start, end, seq, version, start, end - start, 100 * (int) seq + start, 0, false);
  }

  @Test
  void aNewerExtentCutsOlderOnesAndTheStoredRangeIsKept() {
    LogIndex index = new LogIndex();
    index.add(7, data(0, 100, 1, 1));
    index.add(7, data(40, 60, 2, 2));
    var live = index.overlapping(7, 0, 1000);
    assertThat(live).extracting(LogIndex.Extent::start, LogIndex.Extent::end, LogIndex.Extent::seq)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(0, 40, 1L), org.assertj.core.groups.Tuple.tuple(40, 60, 2L),
            org.assertj.core.groups.Tuple.tuple(60, 100, 1L));
    assertThat(live.get(2).storedStart()).as("the tail still names the whole stored extent").isZero();
    assertThat(live.get(2).storedLength()).isEqualTo(100);
    assertThat(index.liveBytes()).isEqualTo(100);
    assertThat(index.overlapping(7, 50, 70)).extracting(LogIndex.Extent::start, LogIndex.Extent::end)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(50, 60), org.assertj.core.groups.Tuple.tuple(60, 70));
    assertThat(index.version(7)).isEqualTo(2);
  }

  @Test
  void foldingDropsTheVersionsItStoredAndAnEmptyChunkLeaves() {
    LogIndex index = new LogIndex();
    index.add(3, data(0, 10, 1, 5));
    index.add(3, data(20, 30, 2, 9));
    index.folded(3, 5);
    assertThat(index.overlapping(3, 0, 100)).extracting(LogIndex.Extent::seq).containsExactly(2L);
    index.folded(3, 9);
    assertThat(index.has(3)).isFalse();
    assertThat(index.liveBytes()).isZero();
    assertThat(index.chunkCount()).isZero();
  }

  @Test
  void randomExtentsMatchAModelOfWhichSegmentHoldsEachByte() {
    LogIndex index = new LogIndex();
    long[] owner = new long[4096];
    Random rnd = new Random(5);
    for (int seq = 1; seq <= 2000; seq++) {
      int start = rnd.nextInt(4000);
      int end = start + 1 + rnd.nextInt(Math.min(500, 4096 - start));
      index.add(0, data(start, end, seq, seq));
      java.util.Arrays.fill(owner, start, end, seq);
      if (seq % 97 == 0) {
        long upTo = seq - rnd.nextInt(50);
        index.folded(0, upTo);
        for (int k = 0; k < owner.length; k++) {
          if (owner[k] <= upTo) {
            owner[k] = 0;
          }
        }
      }
    }
    long[] seen = new long[4096];
    long bytes = 0;
    for (var e : index.overlapping(0, 0, 4096)) {
      assertThat(e.start()).isGreaterThanOrEqualTo(e.storedStart());
      assertThat(e.end()).isLessThanOrEqualTo(e.storedStart() + e.storedLength());
      for (int k = e.start(); k < e.end(); k++) {
        assertThat(seen[k]).as("byte %d in two entries", k).isZero();
        seen[k] = e.seq();
      }
      bytes += e.end() - e.start();
    }
    assertThat(seen).isEqualTo(owner);
    assertThat(index.liveBytes()).isEqualTo(bytes);
  }
}
