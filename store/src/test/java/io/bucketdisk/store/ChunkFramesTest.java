package io.bucketdisk.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ChunkFramesTest {
  static final int CHUNK = 1 << 20;

  static ByteBuffer framedOf(byte[] data) {
    ByteBuffer out = ByteBuffer.allocate((int) ChunkFrames.objectSize(CHUNK));
    ChunkFrames.frame(ByteBuffer.wrap(data), CHUNK, out);
    return out.flip();
  }

  @Test
  void granulesCarryTheirCrcAndARangeComesBackExactly() {
    byte[] data = new byte[CHUNK];
    new Random(3).nextBytes(data);
    ByteBuffer framed = framedOf(data);
    assertThat(framed.remaining()).isEqualTo(CHUNK + 16 * 4);
    // granules 2..3, from 1000 bytes into granule 2, 70,000 bytes
    int first = 2;
    ByteBuffer part = framed.slice((int) ChunkFrames.offsetOf(first, CHUNK), 2 * (65536 + 4));
    ByteBuffer dst = ByteBuffer.allocate(70_000);
    assertThat(ChunkFrames.unframe(part, first, 2, CHUNK, 1000, 70_000, dst)).isEqualTo(-1);
    byte[] want = java.util.Arrays.copyOfRange(data, 2 * 65536 + 1000, 2 * 65536 + 1000 + 70_000);
    assertThat(dst.array()).isEqualTo(want);
  }

  @Test
  void aFlippedBitNamesItsGranuleAndCopiesNothing() {
    byte[] data = new byte[CHUNK];
    new Random(4).nextBytes(data);
    ByteBuffer framed = framedOf(data);
    int at = (int) ChunkFrames.offsetOf(5, CHUNK) + 777;
    framed.put(at, (byte) (framed.get(at) ^ 0x10));
    ByteBuffer dst = ByteBuffer.allocate(CHUNK);
    assertThat(ChunkFrames.unframe(framed, 0, 16, CHUNK, 0, CHUNK, dst)).isEqualTo(5);
    assertThat(dst.position()).isZero();
    ByteBuffer fine = ByteBuffer.allocate(4096);
    assertThat(ChunkFrames.unframe(framed.slice(0, 65540), 0, 1, CHUNK, 0, 4096, fine)).as("granule 0").isEqualTo(-1);
  }

  @Test
  void smallChunksAreOneGranule() {
    assertThat(ChunkFrames.objectSize(16 << 10)).isEqualTo((16 << 10) + 4);
    assertThat(ChunkFrames.objectSize(4 << 20)).isEqualTo((4 << 20) + 64 * 4);
  }
}
