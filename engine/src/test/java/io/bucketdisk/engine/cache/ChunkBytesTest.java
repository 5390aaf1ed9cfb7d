package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ChunkBytesTest {
  static final int SIZE = 64 * ChunkBytes.PAGE;

  @Test
  void sparseWritesReadBackAgainstAModelAndChargeWhatGrowthSaid() {
    Random rnd = new Random(7);
    ChunkBytes c = ChunkBytes.sparse(SIZE);
    byte[] model = new byte[SIZE];
    for (int op = 0; op < 400; op++) {
      int off = rnd.nextInt(SIZE);
      int n = 1 + rnd.nextInt(Math.min(SIZE - off, 3 * ChunkBytes.PAGE));
      long before = c.charge();
      if (rnd.nextInt(5) == 0) {
        assertThat(c.growth(off, 0)).isZero();
        c.zero(off, n);
        java.util.Arrays.fill(model, off, off + n, (byte) 0);
        assertThat(c.charge()).as("zeros allocate nothing").isEqualTo(before);
      } else {
        byte[] data = new byte[n];
        rnd.nextBytes(data);
        long growth = c.growth(off, n);
        c.write(off, ByteBuffer.wrap(data), n);
        System.arraycopy(data, 0, model, off, n);
        assertThat(c.charge()).as("op %d", op).isEqualTo(before + growth);
      }
      int roff = rnd.nextInt(SIZE);
      int rn = 1 + rnd.nextInt(SIZE - roff);
      ByteBuffer got = ByteBuffer.allocate(rn);
      c.copyTo(roff, rn, got);
      assertThat(got.array()).isEqualTo(java.util.Arrays.copyOfRange(model, roff, roff + rn));
      if (c.isWhole()) {
        break;
      }
    }
    assertThat(c.array()).isEqualTo(model);
    assertThat(c.isWhole()).isTrue();
    assertThat(c.charge()).isEqualTo(SIZE);
  }

  @Test
  void aFewSmallWritesHoldAFewPagesAndHalfTheChunkMakesItWhole() {
    ChunkBytes c = ChunkBytes.sparse(SIZE);
    c.write(100, ByteBuffer.wrap(new byte[] {1, 2, 3}), 3);
    c.write(10 * ChunkBytes.PAGE, ByteBuffer.wrap(new byte[] {4}), 1);
    assertThat(c.isWhole()).isFalse();
    assertThat(c.charge()).isEqualTo(ChunkBytes.chargeAfter(SIZE, 0, 1) + ChunkBytes.PAGE).isLessThan(SIZE / 16);
    byte[] half = new byte[SIZE / 2];
    assertThat(c.growth(SIZE / 2, half.length)).isEqualTo(SIZE - c.charge());
    c.write(SIZE / 2, ByteBuffer.wrap(half), half.length);
    assertThat(c.isWhole()).isTrue();
    byte[] all = c.array();
    assertThat(all[100]).isEqualTo((byte) 1);
    assertThat(all[10 * ChunkBytes.PAGE]).isEqualTo((byte) 4);
    assertThat(ChunkBytes.chargeAfter(SIZE, 0, SIZE)).isEqualTo(SIZE);
  }

  @Test
  void aFrozenArrayStaysAsItWasAndAChangeGoesToACopy() {
    ChunkBytes d = ChunkBytes.whole(new byte[ChunkBytes.PAGE * 4]);
    byte[] sent = d.freeze();
    d.write(10, java.nio.ByteBuffer.wrap(new byte[] {7}), 1);
    assertThat(sent[10]).isZero();
    assertThat(d.thaw(sent)).as("moved to a copy").isFalse();
    assertThat(d.array()[10]).isEqualTo((byte) 7);
    byte[] again = d.freeze();
    assertThat(d.thaw(again)).isTrue();
    d.zero(10, 1);
    assertThat(d.array()).isSameAs(again);
  }
}
