package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ChunkExtentsTest {
  private static final int SIZE = 1 << 16;

  @Test
  void oneExtentSplitByANewerOneInsideItKeepsBothEndsAndEveryField() {
    ChunkExtents x = new ChunkExtents();
    x.add(new LogIndex.Extent(0, 4096, 12, 30, 0, 4096, 777, 0xCAFE, false, 9));
    assertThat(x.add(new LogIndex.Extent(1000, 2000, 13, 31, 1000, 1000, 5, 1, false))).isEqualTo(0);
    List<LogIndex.Extent> out = new ArrayList<>();
    x.overlapping(0, SIZE, out);
    assertThat(out).containsExactly(
        new LogIndex.Extent(0, 1000, 12, 30, 0, 4096, 777, 0xCAFE, false, 9),
        new LogIndex.Extent(1000, 2000, 13, 31, 1000, 1000, 5, 1, false, 13),
        new LogIndex.Extent(2000, 4096, 12, 30, 0, 4096, 777, 0xCAFE, false, 9));
    assertThat(x.add(new LogIndex.Extent(0, SIZE, 14, 32, 0, SIZE, 0, 0, true))).isEqualTo(SIZE - 4096);
    out.clear();
    x.overlapping(100, 200, out);
    assertThat(out).containsExactly(new LogIndex.Extent(100, 200, 14, 32, 0, SIZE, 0, 0, true, 14));
  }

  @Test
  void aMergedSegmentTooLongToNameIsRefused() {
    ChunkExtents x = new ChunkExtents();
    assertThatThrownBy(() -> x.add(new LogIndex.Extent(0, 1, 1L << 40, 1, 0, 1, 0, 0, false, 1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void randomWritesMovesAndFoldsMatchAModelOfEveryByte() {
    Random rnd = new Random(11);
    ChunkExtents x = new ChunkExtents();
    long[] seqOf = new long[SIZE];
    long[] versionOf = new long[SIZE];
    long[] firstOf = new long[SIZE];
    long live = 0;
    long folded = 0;
    for (int seq = 1; seq <= 20_000; seq++) {
      int start = rnd.nextInt(SIZE);
      int length = 1 + rnd.nextInt(rnd.nextBoolean() ? 64 : 4096);
      int end = Math.min(SIZE, start + length);
      long version = seq;
      live += x.add(new LogIndex.Extent(start, end, seq, version, start, end - start, seq * 3, seq, seq % 5 == 0));
      java.util.Arrays.fill(seqOf, start, end, seq);
      java.util.Arrays.fill(versionOf, start, end, version);
      java.util.Arrays.fill(firstOf, start, end, seq);
      if (seq % 1000 == 0) {
        // the segments (seq - 300, seq - 100] merged into one numbered seq - 100
        long first = seq - 299;
        long last = seq - 100;
        x.moved(first, last, e -> new LogIndex.Extent(e.start(), e.end(), last, e.version(), e.storedStart(),
            e.storedLength(), e.segOffset() + 1, e.crc(), e.zero(), first));
        for (int k = 0; k < SIZE; k++) {
          if (seqOf[k] >= first && seqOf[k] <= last) {
            seqOf[k] = last;
            firstOf[k] = first;
          }
        }
      }
      if (seq % 1777 == 0) {
        folded = seq - rnd.nextInt(2000);
        live -= x.folded(folded);
        for (int k = 0; k < SIZE; k++) {
          if (versionOf[k] <= folded) {
            seqOf[k] = 0;
            versionOf[k] = 0;
          }
        }
      }
      if (seq % 97 == 0) {
        int from = rnd.nextInt(SIZE);
        checkAgainstModel(x, from, Math.min(SIZE, from + 1 + rnd.nextInt(8192)), seqOf, versionOf);
        long after = seq - rnd.nextInt(3000);
        ValidRanges r = new ValidRanges(SIZE);
        x.loggedAfter(after, r);
        int[] got = r.toArray();
        boolean[] in = new boolean[SIZE];
        for (int g = 0; g < got.length; g += 2) {
          java.util.Arrays.fill(in, got[g], got[g + 1], true);
        }
        for (int k = 0; k < SIZE; k++) {
          assertThat(in[k]).as("byte %d logged after segment %d", k, after).isEqualTo(seqOf[k] != 0 && firstOf[k] > after);
        }
      }
    }
    checkAgainstModel(x, 0, SIZE, seqOf, versionOf);
    long modelLive = java.util.Arrays.stream(seqOf).filter(s -> s != 0).count();
    assertThat(live).isEqualTo(modelLive);
    assertThat(x.version()).isEqualTo(java.util.Arrays.stream(versionOf).max().orElseThrow());
    assertThat(x.folded(Long.MAX_VALUE)).isEqualTo(modelLive);
    assertThat(x.isEmpty()).isTrue();
    assertThat(x.version()).isEqualTo(-1);
  }

  private static void checkAgainstModel(ChunkExtents x, int from, int to, long[] seqOf, long[] versionOf) {
    List<LogIndex.Extent> out = new ArrayList<>();
    x.overlapping(from, to, out);
    long[] seen = new long[SIZE];
    int last = from;
    for (LogIndex.Extent e : out) {
      assertThat(e.start()).isGreaterThanOrEqualTo(last);
      assertThat(e.end()).isGreaterThan(e.start()).isLessThanOrEqualTo(to);
      assertThat(e.start()).isGreaterThanOrEqualTo(e.storedStart());
      assertThat(e.end()).isLessThanOrEqualTo(e.storedStart() + e.storedLength());
      assertThat(e.zero()).isEqualTo(e.crc() % 5 == 0);
      assertThat(e.first()).isEqualTo(e.segOffset() == e.crc() * 3 ? e.seq() : e.seq() - 199);
      for (int k = e.start(); k < e.end(); k++) {
        seen[k] = e.seq();
        assertThat(e.version()).isEqualTo(versionOf[k]);
      }
      last = e.end();
    }
    for (int k = from; k < to; k++) {
      assertThat(seen[k]).as("byte %d", k).isEqualTo(seqOf[k]);
    }
  }
}
