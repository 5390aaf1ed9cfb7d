package io.bucketdisk.store.log;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The byte layout of one log segment object, big-endian:
 *
 * <pre>
 *   header     32 bytes   magic "BDLOG001", seq (8), epoch (8), directory CRC32C (4), directory sealed (4: 1)
 *   data       the bytes of the data extents, in directory order
 *   directory  24 bytes per extent: chunk (8), offset in chunk (4), length (4), flags (4: 1 = zeros), CRC32C (4)
 *   trailer    16 bytes   directory offset (8), extent count (4), CRC32C of every byte before it (4)
 * </pre>
 *
 * Every data extent carries its own CRC32C (so a ranged read of one extent can be checked alone), the directory CRC
 * covers the directory and the trailer's first 12 bytes (so the directory can be read and checked without the data:
 * {@link SegmentDirectory}), and the trailer's CRC covers the whole object. {@link Builder} writes the header's zeros,
 * the data and the directory; the store stamps seq, epoch, the directory CRC and the trailer CRC when it stores the
 * segment ({@link #stamp}). {@link #decode} checks all of it. A segment stored before the directory CRC existed has
 * zeros there (not sealed): only a whole read checks its directory.
 */
public final class LogSegment {
  static final byte[] MAGIC = "BDLOG001".getBytes(StandardCharsets.US_ASCII);
  public static final int HEADER = 32;
  static final int ENTRY = 24;
  static final int TRAILER = 16;
  static final int ZERO_FLAG = 1;
  static final int SEALED = 1;

  private LogSegment() {}

  /** A damaged or foreign object where a segment was expected. */
  public static final class DamagedException extends Exception {
    public DamagedException(String why) {
      super(why);
    }
  }

  /** Bytes of a chunk a {@link Builder} copies from: {@code length} bytes at chunk offset {@code offset} into {@code dst}. */
  @FunctionalInterface
  public interface Source {
    void copy(int offset, byte[] dst, int dstOffset, int length);
  }

  /** A decoded segment: what its header says and its extents, in the order they apply. */
  public record Decoded(long seq, long epoch, List<LogExtent> extents) {}

  /**
   * Collects the extents of one segment in a growable array. Not thread safe. Reuse with {@link #reset}; the array
   * is kept unless it grew past {@code keepBytes}. Or lend it arrays: {@link #reset(byte[])} starts a segment in the
   * caller's array, and {@link #buffer} hands back the one it ended in (grown, if the segment needed more).
   */
  public static final class Builder {
    private final int keepBytes;
    private byte[] buf;
    private int pos;
    private long[] chunks = new long[16];
    private int[] meta = new int[16 * 4];
    private int count;
    private long dataBytes;

    public Builder(int keepBytes) {
      this.keepBytes = keepBytes;
      this.buf = new byte[Math.min(keepBytes, 64 << 10)];
      reset();
    }

    public void reset() {
      if (buf.length > keepBytes) {
        buf = new byte[keepBytes];
      }
      pos = HEADER;
      count = 0;
      dataBytes = 0;
    }

    /** Starts a new segment in {@code array}, which this builder uses (and may outgrow) until the next reset. */
    public void reset(byte[] array) {
      buf = array;
      pos = HEADER;
      count = 0;
      dataBytes = 0;
    }

    /** The array the segment is built in now; {@link #finish}'s buffer wraps it. */
    public byte[] buffer() {
      return buf;
    }

    public int extents() {
      return count;
    }

    /** Bytes of data collected so far. */
    public long dataBytes() {
      return dataBytes;
    }

    /**
     * Where the next data extent's bytes go in the finished segment (its offset from the segment's start): what a
     * ranged read of that extent asks for.
     */
    public int position() {
      return pos;
    }

    /**
     * Adds {@code length} bytes of {@code src} at {@code srcOffset} as the new contents of a range of a chunk, at
     * {@link #position()}; returns the extent's CRC32C (what a ranged read of it checks).
     */
    public int addData(long chunk, int offset, byte[] src, int srcOffset, int length) {
      return addData(chunk, offset, length, (o, dst, at, n) -> System.arraycopy(src, srcOffset + o - offset, dst, at, n));
    }

    /** Like {@link #addData(long, int, byte[], int, int)}, the bytes copied from {@code src} at chunk offset {@code offset}. */
    public int addData(long chunk, int offset, int length, Source src) {
      ensure(length);
      src.copy(offset, buf, pos, length);
      CRC32C crc = new CRC32C();
      crc.update(buf, pos, length);
      pos += length;
      dataBytes += length;
      int sum = (int) crc.getValue();
      entry(chunk, offset, length, 0, sum);
      return sum;
    }

    /** Adds a range of a chunk that now reads as zeros. */
    public void addZero(long chunk, int offset, int length) {
      entry(chunk, offset, length, ZERO_FLAG, 0);
    }

    private void entry(long chunk, int offset, int length, int flags, int crc) {
      if (count == chunks.length) {
        chunks = Arrays.copyOf(chunks, count * 2);
        meta = Arrays.copyOf(meta, count * 8);
      }
      chunks[count] = chunk;
      meta[4 * count] = offset;
      meta[4 * count + 1] = length;
      meta[4 * count + 2] = flags;
      meta[4 * count + 3] = crc;
      count++;
    }

    /** The finished segment, seq, epoch and trailer CRC still zero (see {@link #stamp}); valid until the next change. */
    public ByteBuffer finish() {
      int directory = pos;
      grow(pos + (long) count * ENTRY + TRAILER);
      ByteBuffer b = ByteBuffer.wrap(buf);
      b.put(0, MAGIC);
      b.putLong(8, 0).putLong(16, 0).putLong(24, 0);
      int p = directory;
      for (int i = 0; i < count; i++) {
        b.putLong(p, chunks[i]);
        b.putInt(p + 8, meta[4 * i]);
        b.putInt(p + 12, meta[4 * i + 1]);
        b.putInt(p + 16, meta[4 * i + 2]);
        b.putInt(p + 20, meta[4 * i + 3]);
        p += ENTRY;
      }
      b.putLong(p, directory);
      b.putInt(p + 8, count);
      b.putInt(p + 12, 0);
      return ByteBuffer.wrap(buf, 0, p + TRAILER);
    }

    /** Room for {@code more} bytes of data and their entry, with the directory so far and the trailer. */
    private void ensure(long more) {
      grow(pos + more + (long) (count + 1) * ENTRY + TRAILER);
    }

    private void grow(long need) {
      if (need > Integer.MAX_VALUE - 16) {
        throw new IllegalStateException("log segment too large: " + need + " bytes");
      }
      if (need > buf.length) {
        buf = Arrays.copyOf(buf, (int) Math.max(need, Math.min(Integer.MAX_VALUE - 16, 2L * buf.length)));
      }
    }
  }

  /** Writes {@code seq} and {@code epoch} into a finished segment and seals it with the trailer CRC. */
  public static void stamp(ByteBuffer segment, long seq, long epoch) {
    int base = segment.position();
    int end = segment.limit();
    segment.putLong(base + 8, seq);
    segment.putLong(base + 16, epoch);
    long directory = segment.getLong(end - TRAILER);
    segment.putInt(base + 24, crc(segment, base + (int) directory, end - 4));
    segment.putInt(base + 28, SEALED);
    segment.putInt(end - 4, crc(segment, base, end - 4));
  }

  /** The CRC32C of bytes {@code [from, to)} of {@code b} (absolute indexes). */
  static int crc(ByteBuffer b, int from, int to) {
    CRC32C crc = new CRC32C();
    crc.update(b.slice(from, to - from));
    return (int) crc.getValue();
  }

  /** The bytes of a segment of {@code dataBytes} of data in {@code extents} extents (zeros extents included). */
  public static long size(long dataBytes, int extents) {
    return HEADER + dataBytes + (long) extents * ENTRY + TRAILER;
  }

  /** Reads a whole stored segment, checking its trailer CRC and every extent's CRC. */
  public static Decoded decode(ByteBuffer segment) throws DamagedException {
    ByteBuffer s = segment.slice();
    int size = s.remaining();
    if (size < HEADER + TRAILER) {
      throw new DamagedException("too short for a log segment (" + size + " bytes)");
    }
    if (!s.slice(0, MAGIC.length).equals(ByteBuffer.wrap(MAGIC))) {
      throw new DamagedException("not a log segment (bad magic)");
    }
    CRC32C crc = new CRC32C();
    crc.update(s.slice(0, size - 4));
    if ((int) crc.getValue() != s.getInt(size - 4)) {
      throw new DamagedException("checksum mismatch over the segment");
    }
    long directory = s.getLong(size - TRAILER);
    int count = s.getInt(size - TRAILER + 8);
    if (count < 0 || directory < HEADER || directory + (long) count * ENTRY != size - TRAILER) {
      throw new DamagedException("directory out of bounds");
    }
    if (s.getInt(28) == SEALED && s.getInt(24) != crc(s, (int) directory, size - 4)) {
      throw new DamagedException("checksum mismatch over the directory");
    }
    List<LogExtent> out = new ArrayList<>(count);
    int data = HEADER;
    for (int i = 0; i < count; i++) {
      int p = (int) directory + i * ENTRY;
      long chunk = s.getLong(p);
      int offset = s.getInt(p + 8);
      int length = s.getInt(p + 12);
      int flags = s.getInt(p + 16);
      int sum = s.getInt(p + 20);
      if (chunk < 0 || offset < 0 || length <= 0) {
        throw new DamagedException("extent " + i + " is invalid");
      }
      if ((flags & ZERO_FLAG) != 0) {
        out.add(new LogExtent(chunk, offset, length, null));
        continue;
      }
      if (data + (long) length > directory) {
        throw new DamagedException("extent " + i + " runs past the data");
      }
      ByteBuffer bytes = s.slice(data, length).asReadOnlyBuffer();
      if (crc(s, data, data + length) != sum) { // over s: a read-only buffer's checksum copies it in 4 KiB arrays
        throw new DamagedException("checksum mismatch in extent " + i + " (chunk " + chunk + " +" + offset + ")");
      }
      out.add(new LogExtent(chunk, offset, length, bytes));
      data += length;
    }
    return new Decoded(s.getLong(8), s.getLong(16), out);
  }
}
