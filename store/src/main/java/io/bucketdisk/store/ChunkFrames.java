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

  /**
   * The framed form of {@code chunk} (its remaining {@code chunkSize} bytes; position kept), as buffers to store one
   * after the other: each granule (a view of {@code chunk}, not a copy), then its CRC32C.
   */
  static ByteBuffer[] frame(ByteBuffer chunk, int chunkSize) {
    int g = granule(chunkSize);
    int count = chunkSize / g;
    ByteBuffer crcs = ByteBuffer.allocate(count * CRC_BYTES);
    ByteBuffer[] parts = new ByteBuffer[2 * count];
    CRC32C crc = new CRC32C();
    for (int k = 0; k < count; k++) {
      ByteBuffer piece = chunk.slice(chunk.position() + k * g, g);
      crc.reset();
      crc.update(piece.duplicate());
      crcs.putInt(k * CRC_BYTES, (int) crc.getValue());
      parts[2 * k] = piece;
      parts[2 * k + 1] = crcs.slice(k * CRC_BYTES, CRC_BYTES);
    }
    return parts;
  }

  /** The first framed byte of granule {@code index}. */
  static long offsetOf(int granuleIndex, int chunkSize) {
    return (long) granuleIndex * (granule(chunkSize) + CRC_BYTES);
  }

  /**
   * One read of the framed granules {@code [first, last]} into a caller's buffer: {@link #parts} are the buffers a
   * scattering read fills, in the object's order. A granule the requested range covers whole lands in place in
   * {@code dst}; one it covers in part (at most the first and the last) lands in a temporary; the checksums land in a
   * small buffer of their own. After the read, {@link #check} verifies every granule and {@link #finish} copies the
   * partly covered ones into {@code dst} and moves its position past the range. Not thread safe.
   */
  static final class Scatter {
    private final int first;
    private final int g;
    private final int offsetInChunk;
    private final int length;
    private final ByteBuffer dst;
    private final ByteBuffer[] granules;
    private final boolean[] temporary;
    private final ByteBuffer crcs;
    private final ByteBuffer[] parts;

    /**
     * {@code dst.remaining()} bytes at {@code offsetInChunk} of a chunk, which lie in granules {@code [first, last]}
     * of {@code g} bytes.
     */
    Scatter(int first, int last, int g, int offsetInChunk, ByteBuffer dst) {
      this.first = first;
      this.g = g;
      this.offsetInChunk = offsetInChunk;
      this.length = dst.remaining();
      this.dst = dst;
      int count = last - first + 1;
      granules = new ByteBuffer[count];
      temporary = new boolean[count];
      crcs = ByteBuffer.allocate(count * CRC_BYTES);
      parts = new ByteBuffer[2 * count];
      for (int i = 0; i < count; i++) {
        int start = (first + i) * g;
        if (start >= offsetInChunk && start + g <= offsetInChunk + length) {
          granules[i] = dst.slice(dst.position() + start - offsetInChunk, g);
        } else {
          granules[i] = ByteBuffer.allocate(g);
          temporary[i] = true;
        }
        parts[2 * i] = granules[i];
        parts[2 * i + 1] = crcs.slice(i * CRC_BYTES, CRC_BYTES);
      }
    }

    ByteBuffer[] parts() {
      return parts;
    }

    /** The bytes the read must return: every granule with its checksum. */
    int framedBytes() {
      return granules.length * (g + CRC_BYTES);
    }

    /** -1 when every granule matches its checksum, else the chunk's index of the first that does not. */
    int check() {
      CRC32C crc = new CRC32C();
      for (int i = 0; i < granules.length; i++) {
        crc.reset();
        crc.update(granules[i].slice(0, g));
        if ((int) crc.getValue() != crcs.getInt(i * CRC_BYTES)) {
          return first + i;
        }
      }
      return -1;
    }

    /** Copies the partly covered granules' requested bytes into {@code dst}; its position moves past the range. */
    void finish() {
      int base = dst.position();
      for (int i = 0; i < granules.length; i++) {
        if (temporary[i]) {
          int start = (first + i) * g;
          int from = Math.max(start, offsetInChunk);
          int to = Math.min(start + g, offsetInChunk + length);
          dst.put(base + from - offsetInChunk, granules[i], from - start, to - from);
        }
      }
      dst.position(base + length);
    }
  }
}
