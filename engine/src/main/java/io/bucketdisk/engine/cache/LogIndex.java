package io.bucketdisk.engine.cache;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

/**
 * One volume's extent index: for every chunk, which ranges the stored log segments hold newer than its chunk object,
 * and where in which segment. It is what lets a logged chunk leave memory: {@link StoredChunks} reads such a chunk
 * as its chunk object with these extents over it.
 *
 * <p><b>Contract.</b> Per chunk the extents do not overlap: a newer extent ({@link #add}, called in log order) cuts
 * what it covers out of older ones, so the live part of an extent is a sub-range of what its segment stored. Each
 * entry remembers the whole stored extent (offset, length, CRC32C) so a reader can check it. {@link #folded} drops
 * the entries of a chunk whose versions its chunk object now holds; it must be called only after that object is
 * stored, and a segment may be trimmed only after every entry naming it was dropped, so a reader that takes
 * {@link #overlapping} before it reads the chunk object always finds the bytes it needs (in the object, or again
 * in a segment still stored).
 *
 * <p>Thread safe: each chunk's entries ({@link ChunkExtents}, packed) are guarded by their own monitor.
 */
final class LogIndex {
  /**
   * The live part {@code [start, end)} of a chunk range that segment {@code seq} (covering {@code [first, seq]} when
   * merged) logged at chunk {@code version}: the
   * whole extent was {@code storedLength} bytes at chunk offset {@code storedStart}, its bytes at {@code segOffset}
   * in the segment with CRC32C {@code crc}; {@code zero}: it reads as zeros (no bytes stored).
   */
  record Extent(int start, int end, long seq, long version, int storedStart, int storedLength, int segOffset, int crc,
      boolean zero, long first) {
    /** An extent of a segment of one number. */
    Extent(int start, int end, long seq, long version, int storedStart, int storedLength, int segOffset, int crc,
        boolean zero) {
      this(start, end, seq, version, storedStart, storedLength, segOffset, crc, zero, seq);
    }

    Extent cut(int from, int to) {
      return new Extent(from, to, seq, version, storedStart, storedLength, segOffset, crc, zero, first);
    }

    /** Whether its segment lies inside {@code [from, to]}. */
    boolean inside(long from, long to) {
      return first >= from && seq <= to;
    }
  }

  private final ConcurrentHashMap<Long, ChunkExtents> chunks = new ConcurrentHashMap<>();
  private final AtomicLong liveBytes = new AtomicLong();
  private final AtomicLong extents = new AtomicLong();

  /** Records that segment {@code e.seq()} holds {@code e} for chunk {@code index}, over every older entry. */
  void add(long index, Extent e) {
    ChunkExtents m = chunks.computeIfAbsent(index, k -> new ChunkExtents());
    synchronized (m) {
      if (chunks.get(index) != m) {
        add(index, e); // dropped empty meanwhile
        return;
      }
      int before = m.size();
      liveBytes.addAndGet(m.add(e));
      extents.addAndGet(m.size() - before);
    }
  }

  /** Whether the log holds anything of chunk {@code index} that its chunk object lacks. */
  boolean has(long index) {
    return chunks.containsKey(index);
  }

  /** The entries of chunk {@code index} that overlap {@code [from, to)}, by offset, cut to that range. */
  List<Extent> overlapping(long index, int from, int to) {
    ChunkExtents m = chunks.get(index);
    if (m == null) {
      return List.of();
    }
    List<Extent> out = new ArrayList<>();
    synchronized (m) {
      m.overlapping(from, to, out);
    }
    return out;
  }

  /**
   * Adds to {@code out} the live ranges of chunk {@code index} whose segments all come after segment {@code last}
   * (what a merge of segments up to {@code last} must not bring back), without an entry object for each.
   */
  void loggedAfter(long index, long last, ValidRanges out) {
    ChunkExtents m = chunks.get(index);
    if (m == null) {
      return;
    }
    synchronized (m) {
      m.loggedAfter(last, out);
    }
  }

  /**
   * The segments {@code [first, last]} were merged into one: each entry of chunk {@code index} naming one of them now
   * names the merged segment as {@code to} maps it (same live range and version, the bytes' place in the new segment).
   */
  void moved(long index, long first, long last, UnaryOperator<Extent> to) {
    ChunkExtents m = chunks.get(index);
    if (m == null) {
      return;
    }
    synchronized (m) {
      m.moved(first, last, to);
    }
  }

  /** The highest chunk version the entries of {@code index} hold, or -1 when there are none. */
  long version(long index) {
    ChunkExtents m = chunks.get(index);
    if (m == null) {
      return -1;
    }
    synchronized (m) {
      return m.version();
    }
  }

  /** Chunk {@code index} is stored at {@code version}: drops the entries of that version and older. */
  void folded(long index, long version) {
    ChunkExtents m = chunks.get(index);
    if (m == null) {
      return;
    }
    synchronized (m) {
      int before = m.size();
      liveBytes.addAndGet(-m.folded(version));
      extents.addAndGet(m.size() - before);
      if (m.isEmpty()) {
        chunks.remove(index, m);
      }
    }
  }

  /** The chunks with entries, in no particular order (a weakly consistent view). */
  List<Long> chunks() {
    return new ArrayList<>(chunks.keySet());
  }

  /** Number of chunks with entries. */
  int chunkCount() {
    return chunks.size();
  }

  /** Bytes of chunk ranges whose newest bytes are only in the log. */
  long liveBytes() {
    return liveBytes.get();
  }

  /** Number of entries (live parts of stored extents) over all chunks. */
  long extentCount() {
    return extents.get();
  }

  /** Forgets everything (the volume closed). */
  void clear() {
    chunks.clear();
    liveBytes.set(0);
    extents.set(0);
  }
}
