package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class ValidRangesTest {

  @Test
  void randomAddsMatchABitmapModel() {
    Random rnd = new Random(42);
    for (int round = 0; round < 300; round++) {
      int limit = 1 + rnd.nextInt(4096);
      ValidRanges r = new ValidRanges(limit);
      boolean[] model = new boolean[limit];
      for (int op = 0; op < 40; op++) {
        int a = rnd.nextInt(limit + 1);
        int b = rnd.nextInt(limit + 1);
        int s = Math.min(a, b);
        int e = Math.max(a, b);
        r.add(s, e);
        for (int i = s; i < e; i++) {
          model[i] = true;
        }
        check(r, model, rnd);
      }
    }
  }

  @Test
  void piecesCoverTheRangesAndNeverCrossABlock() {
    Random rnd = new Random(3);
    for (int round = 0; round < 200; round++) {
      int limit = 1 + rnd.nextInt(4096);
      int piece = 1 + rnd.nextInt(300);
      ValidRanges r = new ValidRanges(limit);
      for (int op = 0; op < 6; op++) {
        int a = rnd.nextInt(limit + 1);
        int b = rnd.nextInt(limit + 1);
        r.add(Math.min(a, b), Math.max(a, b));
      }
      boolean[] covered = new boolean[limit];
      int[] p = r.toPieces(piece);
      for (int k = 0; k < p.length; k += 2) {
        assertThat(p[k]).as("pieces are non-empty and in order").isLessThan(p[k + 1]);
        assertThat(k == 0 || p[k] >= p[k - 1]).isTrue();
        assertThat((p[k + 1] - 1) / piece).as("piece [%d, %d) within one block of %d", p[k], p[k + 1], piece)
            .isEqualTo(p[k] / piece);
        for (int i = p[k]; i < p[k + 1]; i++) {
          covered[i] = true;
        }
      }
      for (int i = 0; i < limit; i++) {
        assertThat(covered[i]).as("byte %d", i).isEqualTo(r.covers(i, i + 1));
      }
    }
  }

  private static void check(ValidRanges r, boolean[] model, Random rnd) {
    int valid = 0;
    for (boolean m : model) {
      valid += m ? 1 : 0;
    }
    assertThat(r.validBytes()).isEqualTo(valid);
    assertThat(r.isFull()).isEqualTo(valid == model.length);
    List<int[]> missing = new ArrayList<>();
    r.forEachMissing((s, e) -> missing.add(new int[] {s, e}));
    boolean[] fromMissing = new boolean[model.length];
    java.util.Arrays.fill(fromMissing, true);
    int prevEnd = -1;
    for (int[] m : missing) {
      assertThat(m[0]).isGreaterThan(prevEnd).isLessThan(m[1]);
      prevEnd = m[1];
      for (int i = m[0]; i < m[1]; i++) {
        fromMissing[i] = false;
      }
    }
    assertThat(fromMissing).isEqualTo(model);
    assertThat(r.missingArray()).hasSize(2 * missing.size());
    for (int q = 0; q < 10; q++) {
      int a = rnd.nextInt(model.length + 1);
      int b = rnd.nextInt(model.length + 1);
      int s = Math.min(a, b);
      int e = Math.max(a, b);
      boolean all = true;
      for (int i = s; i < e; i++) {
        all &= model[i];
      }
      assertThat(r.covers(s, e)).as("covers(%d, %d) of %s", s, e, r).isEqualTo(all);
    }
  }

  @Test
  void adjacentRangesMerge() {
    ValidRanges r = new ValidRanges(100);
    r.add(10, 20);
    r.add(30, 40);
    r.add(20, 30);
    assertThat(r.rangeCount()).isEqualTo(1);
    assertThat(r.covers(10, 40)).isTrue();
    r.add(0, 10);
    r.add(40, 100);
    assertThat(r.isFull()).isTrue();
  }
}
