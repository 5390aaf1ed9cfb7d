package io.bucketdisk.store.log;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * What one stored segment holds, without its data: its number (the last of its range {@code [first, seq]} when it is
 * merged, see {@link LogRef}), epoch and size, and its directory, each extent with
 * where its bytes are in the segment. A writer that adopts a log ({@code ChunkStore#takeAdoptedLog}) reads its extents
 * from here and their bytes with ranged reads, checking each extent's CRC32C.
 *
 * <p>{@link #parse} needs the header and the tail of the segment (the directory and the trailer); it checks the
 * directory CRC the store stamped into the header ({@link LogSegment}), so no data byte has to be read. A segment
 * whose header is not sealed (stored before the directory CRC existed) can only be parsed from the whole object,
 * after {@link LogSegment#decode} checked it.
 */
public record SegmentDirectory(long seq, long epoch, long bytes, List<Entry> entries, long first) {

  /** A segment of one number ({@code first == seq}). */
  public SegmentDirectory(long seq, long epoch, long bytes, List<Entry> entries) {
    this(seq, epoch, bytes, entries, seq);
  }

  /** This directory as that of a segment covering {@code [first, seq]} (a merged segment's key says so). */
  public SegmentDirectory covering(long first) {
    return new SegmentDirectory(seq, epoch, bytes, entries, first);
  }

  /**
   * One extent: {@code length} bytes at {@code offset} of chunk {@code chunk}, zeros when {@code zero}, else stored at
   * {@code dataOffset} of the segment with CRC32C {@code crc}.
   */
  public record Entry(long chunk, int offset, int length, boolean zero, int crc, int dataOffset) {}

  /** Whether {@code header} (a segment's first bytes) carries a directory CRC. */
  public static boolean sealed(ByteBuffer header) {
    return header.remaining() >= LogSegment.HEADER && header.getInt(header.position() + 28) == LogSegment.SEALED;
  }

  /**
   * Where the directory of a segment of {@code size} bytes starts, from {@code tail}, its last bytes (at least the
   * trailer): what a reader must have read from for {@link #parse}.
   */
  public static long directoryOffset(ByteBuffer tail, long size) throws LogSegment.DamagedException {
    if (size < LogSegment.HEADER + LogSegment.TRAILER || tail.remaining() < LogSegment.TRAILER) {
      throw new LogSegment.DamagedException("too short for a log segment (" + size + " bytes)");
    }
    long directory = tail.getLong(tail.limit() - LogSegment.TRAILER);
    int count = tail.getInt(tail.limit() - LogSegment.TRAILER + 8);
    if (count < 0 || directory < LogSegment.HEADER
        || directory + (long) count * LogSegment.ENTRY != size - LogSegment.TRAILER) {
      throw new LogSegment.DamagedException("directory out of bounds");
    }
    return directory;
  }

  /**
   * Parses the directory of a segment of {@code size} bytes from its {@code header} and its {@code tail} (its last
   * bytes, from at least {@link #directoryOffset} on). Checks the directory CRC unless {@code wholeChecked} (the
   * caller decoded the whole object), and that the extents fit the data.
   */
  public static SegmentDirectory parse(ByteBuffer header, ByteBuffer tail, long size, boolean wholeChecked)
      throws LogSegment.DamagedException {
    ByteBuffer h = header.slice();
    if (h.remaining() < LogSegment.HEADER || !h.slice(0, LogSegment.MAGIC.length).equals(
        ByteBuffer.wrap(LogSegment.MAGIC))) {
      throw new LogSegment.DamagedException("not a log segment (bad magic)");
    }
    ByteBuffer t = tail.slice();
    long directory = directoryOffset(t, size);
    long tailStart = size - t.remaining();
    if (directory < tailStart) {
      throw new LogSegment.DamagedException("the tail read does not reach the directory");
    }
    int at = (int) (directory - tailStart);
    if (!wholeChecked) {
      if (!sealed(h)) {
        throw new LogSegment.DamagedException("the directory carries no checksum");
      }
      if (h.getInt(24) != LogSegment.crc(t, at, t.limit() - 4)) {
        throw new LogSegment.DamagedException("checksum mismatch over the directory");
      }
    }
    int count = t.getInt(t.limit() - LogSegment.TRAILER + 8);
    List<Entry> out = new ArrayList<>(count);
    long data = LogSegment.HEADER;
    for (int i = 0; i < count; i++) {
      int p = at + i * LogSegment.ENTRY;
      long chunk = t.getLong(p);
      int offset = t.getInt(p + 8);
      int length = t.getInt(p + 12);
      boolean zero = (t.getInt(p + 16) & LogSegment.ZERO_FLAG) != 0;
      if (chunk < 0 || offset < 0 || length <= 0) {
        throw new LogSegment.DamagedException("extent " + i + " is invalid");
      }
      if (zero) {
        out.add(new Entry(chunk, offset, length, true, 0, 0));
        continue;
      }
      if (data + length > directory) {
        throw new LogSegment.DamagedException("extent " + i + " runs past the data");
      }
      out.add(new Entry(chunk, offset, length, false, t.getInt(p + 20), (int) data));
      data += length;
    }
    return new SegmentDirectory(h.getLong(8), h.getLong(16), size, List.copyOf(out));
  }
}
