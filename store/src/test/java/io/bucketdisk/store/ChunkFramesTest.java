package io.bucketdisk.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class ChunkFramesTest {
  static final int CHUNK = 1 << 20;
  static final int G = 65536;

  /** The framed object: what a store keeps of the gathered parts. */
  static ByteBuffer framedOf(byte[] data) {
    ByteBuffer out = ByteBuffer.allocate((int) ChunkFrames.objectSize(CHUNK));
    for (ByteBuffer part : ChunkFrames.frame(ByteBuffer.wrap(data), CHUNK)) {
      out.put(part.duplicate());
    }
    return out.flip();
  }

  /** What a scattering read of the framed granules {@code [first, last]} leaves in {@code s}'s parts. */
  static void scatterInto(ChunkFrames.Scatter s, ByteBuffer framed, int first) {
    ByteBuffer src = framed.slice((int) ChunkFrames.offsetOf(first, CHUNK), s.framedBytes());
    for (ByteBuffer part : s.parts()) {
      int n = part.remaining();
      part.put(src.slice(src.position(), n));
      src.position(src.position() + n);
    }
  }

  @Test
  void eachGranuleIsFollowedByItsCrcAndIsAViewNotACopy() {
    byte[] data = new byte[CHUNK];
    new Random(2).nextBytes(data);
    ByteBuffer framed = framedOf(data);
    assertThat(framed.remaining()).isEqualTo(CHUNK + 16 * 4);
    CRC32C crc = new CRC32C();
    crc.update(data, 3 * G, G);
    assertThat(framed.getInt((int) ChunkFrames.offsetOf(3, CHUNK) + G)).isEqualTo((int) crc.getValue());
    ByteBuffer[] parts = ChunkFrames.frame(ByteBuffer.wrap(data), CHUNK);
    assertThat(parts[6].array()).isSameAs(data);
  }

  @Test
  void aRangeWithPartlyCoveredGranulesComesBackExactlyAndNothingOutsideIsTouched() {
    byte[] data = new byte[CHUNK];
    new Random(3).nextBytes(data);
    ByteBuffer framed = framedOf(data);
    // from 1000 bytes into granule 2 to 500 bytes into granule 5: two whole granules between two partial ones
    int offset = 2 * G + 1000;
    int length = 3 * G - 1000 + 500;
    byte[] out = new byte[length + 20];
    Arrays.fill(out, (byte) 0x7e);
    ByteBuffer dst = ByteBuffer.wrap(out, 10, length);
    ChunkFrames.Scatter s = new ChunkFrames.Scatter(2, 5, G, offset, dst);
    assertThat(s.parts()).hasSize(8);
    assertThat(s.parts()[2].array()).as("granule 3 lands in place").isSameAs(out);
    assertThat(s.parts()[0].array()).as("granule 2 goes through a temporary").isNotSameAs(out);
    scatterInto(s, framed, 2);
    assertThat(s.check()).isEqualTo(-1);
    s.finish();
    assertThat(dst.position()).isEqualTo(10 + length);
    assertThat(Arrays.copyOfRange(out, 10, 10 + length)).isEqualTo(Arrays.copyOfRange(data, offset, offset + length));
    assertThat(Arrays.copyOfRange(out, 0, 10)).containsOnly((byte) 0x7e);
    assertThat(Arrays.copyOfRange(out, 10 + length, out.length)).containsOnly((byte) 0x7e);
  }

  @Test
  void aFlippedBitNamesItsGranule() {
    byte[] data = new byte[CHUNK];
    new Random(4).nextBytes(data);
    ByteBuffer framed = framedOf(data);
    int at = (int) ChunkFrames.offsetOf(5, CHUNK) + 777;
    framed.put(at, (byte) (framed.get(at) ^ 0x10));
    ChunkFrames.Scatter whole = new ChunkFrames.Scatter(0, 15, G, 0, ByteBuffer.allocate(CHUNK));
    scatterInto(whole, framed, 0);
    assertThat(whole.check()).isEqualTo(5);
    ChunkFrames.Scatter fine = new ChunkFrames.Scatter(0, 0, G, 0, ByteBuffer.allocate(4096));
    scatterInto(fine, framed, 0);
    assertThat(fine.check()).as("granule 0").isEqualTo(-1);
  }

  @Test
  void smallChunksAreOneGranule() {
    assertThat(ChunkFrames.objectSize(16 << 10)).isEqualTo((16 << 10) + 4);
    assertThat(ChunkFrames.objectSize(4 << 20)).isEqualTo((4 << 20) + 64 * 4);
  }
}
