package io.bucketdisk.store.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LogSegmentTest {

  static byte[] bytes(int n, int seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  static ByteBuffer sealed(LogSegment.Builder b, long seq, long epoch) {
    ByteBuffer f = b.finish();
    ByteBuffer copy = ByteBuffer.allocate(f.remaining()).put(f.duplicate()).flip();
    LogSegment.stamp(copy, seq, epoch);
    return copy;
  }

  @Test
  void extentsComeBackInOrderWithTheirBytesAndTheStampedNumberAndEpoch() throws Exception {
    var b = new LogSegment.Builder(1 << 10);
    byte[] big = bytes(300_000, 1);
    b.addData(7, 4096, big, 0, big.length); // grows past the kept array
    b.addZero(3, 0, 1 << 20);
    b.addData(7, 10, big, 5, 20);
    assertThat(b.extents()).isEqualTo(3);
    assertThat(b.dataBytes()).isEqualTo(300_020);
    LogSegment.Decoded d = LogSegment.decode(sealed(b, 42, 9));
    assertThat(d.seq()).isEqualTo(42);
    assertThat(d.epoch()).isEqualTo(9);
    List<LogExtent> e = d.extents();
    assertThat(e).hasSize(3);
    assertThat(e.get(0).chunk()).isEqualTo(7);
    assertThat(e.get(0).offset()).isEqualTo(4096);
    assertThat(e.get(0).data()).isEqualTo(ByteBuffer.wrap(big));
    assertThat(e.get(1).zero()).isTrue();
    assertThat(e.get(1).length()).isEqualTo(1 << 20);
    assertThat(e.get(2).data()).isEqualTo(ByteBuffer.wrap(big, 5, 20));
    b.reset();
    assertThat(b.extents()).isZero();
    assertThat(LogSegment.decode(sealed(b, 1, 1)).extents()).as("an empty segment is valid").isEmpty();
  }

  @Test
  void aSegmentBuiltInAnArrayOfItsSizeStaysInThatArray() throws Exception {
    byte[] data = bytes(10_000, 3);
    byte[] array = new byte[Math.toIntExact(LogSegment.size(10_000 + 300, 3))];
    var b = new LogSegment.Builder(0);
    b.reset(array);
    b.addData(1, 0, data, 0, data.length);
    b.addZero(2, 0, 4096);
    b.addData(1, 20_000, data, 0, 300);
    ByteBuffer f = b.finish();
    assertThat(b.buffer()).as("neither an extent nor the directory outgrew it").isSameAs(array);
    assertThat(f.remaining()).isEqualTo(array.length);
    assertThat(LogSegment.decode(sealed(b, 5, 1)).extents()).hasSize(3);
  }

  @Test
  void everyDamagedByteIsDetected() {
    var b = new LogSegment.Builder(1 << 16);
    b.addData(1, 0, bytes(1000, 2), 0, 1000);
    b.addZero(2, 100, 50);
    ByteBuffer good = sealed(b, 5, 1);
    for (int i = 0; i < good.limit(); i++) {
      ByteBuffer bad = ByteBuffer.allocate(good.limit()).put(good.duplicate()).flip();
      bad.put(i, (byte) (bad.get(i) ^ 0x10));
      int at = i;
      assertThatThrownBy(() -> LogSegment.decode(bad)).as("byte %d flipped", at)
          .isInstanceOf(LogSegment.DamagedException.class);
    }
    assertThatThrownBy(() -> LogSegment.decode(good.duplicate().limit(good.limit() - 1)))
        .isInstanceOf(LogSegment.DamagedException.class);
    assertThatThrownBy(() -> LogSegment.decode(ByteBuffer.wrap(bytes(10, 3))))
        .hasMessageContaining("too short");
  }
}
