package io.bucketdisk.store;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The layout of a chunk object with checksums: the chunk's bytes in granules of {@link #GRANULE} (64 KiB; the whole
 * chunk when smaller), each followed by the CRC32C of its bytes (4 bytes, big-endian). A ranged read of whole granules
 * is one contiguous range of the object and carries their checksums, so every read from the store is checked with
 * the one GET it makes. An object is in this layout exactly when its size is {@link #objectSize}; chunk objects
 * written before it (exactly {@code chunkSize} bytes) have no checksums and are read as they are.
 *
 * <p>Stateless; the methods use only their arguments.
 */
final class ChunkFrames {
  static final int GRANULE = ChunkStore.GRANULE;
  static final int CRC_BYTES = 4;

  private ChunkFrames() {}

  static int granule(int chunkSize) {
    return Math.min(GRANULE, chunkSize);
  }

  /** The size of a framed object of a chunk of {@code chunkSize} bytes. */
  static long objectSize(int chunkSize) {
    return chunkSize + (long) (chunkSize / granule(chunkSize)) * CRC_BYTES;
  }

  /** Writes the framed form of {@code chunk} (its remaining {@code chunkSize} bytes; position kept) into {@code out}. */
  static void frame(ByteBuffer chunk, int chunkSize, ByteBuffer out) {
    int g = granule(chunkSize);
    ByteBuffer src = chunk.duplicate();
    CRC32C crc = new CRC32C();
    for (int at = 0; at < chunkSize; at += g) {
      ByteBuffer piece = src.slice(src.position() + at, g);
      crc.reset();
      crc.update(piece.duplicate());
      out.put(piece);
      out.putInt((int) crc.getValue());
    }
  }

  /** The first framed byte of granule {@code index}. */
  static long offsetOf(int granuleIndex, int chunkSize) {
    return (long) granuleIndex * (granule(chunkSize) + CRC_BYTES);
  }

  /**
   * Checks the framed granules {@code [first, first + count)} read into {@code framed} (flipped: position 0, limit
   * their framed size) and copies {@code length} bytes starting {@code skip} bytes into the first granule to {@code
   * dst}. Returns -1 when every checksum matched, else the index of the first granule that did not (nothing is
   * copied then).
   */
  static int unframe(ByteBuffer framed, int first, int count, int chunkSize, int skip, int length, ByteBuffer dst) {
    int g = granule(chunkSize);
    CRC32C crc = new CRC32C();
    for (int k = 0; k < count; k++) {
      int at = k * (g + CRC_BYTES);
      crc.reset();
      crc.update(framed.slice(at, g));
      if ((int) crc.getValue() != framed.getInt(at + g)) {
        return first + k;
      }
    }
    int left = length;
    int k = skip / g;
    int in = skip % g;
    while (left > 0) {
      int n = Math.min(g - in, left);
      dst.put(framed.slice(k * (g + CRC_BYTES) + in, n));
      left -= n;
      k++;
      in = 0;
    }
    return -1;
  }
}
