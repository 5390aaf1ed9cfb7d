package io.bucketdisk.engine.cache;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

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
 * <p>Thread safe: each chunk's entries are guarded by their own monitor.
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

  private final ConcurrentHashMap<Long, TreeMap<Integer, Extent>> chunks = new ConcurrentHashMap<>();
  private final AtomicLong liveBytes = new AtomicLong();

  /** Records that segment {@code e.seq()} holds {@code e} for chunk {@code index}, over every older entry. */
  void add(long index, Extent e) {
    TreeMap<Integer, Extent> m = chunks.computeIfAbsent(index, k -> new TreeMap<>());
    synchronized (m) {
      if (chunks.get(index) != m) {
        add(index, e); // dropped empty meanwhile
        return;
      }
      long delta = e.end() - e.start();
      Map.Entry<Integer, Extent> before = m.lowerEntry(e.start());
      if (before != null && before.getValue().end() > e.start()) {
        Extent b = before.getValue();
        m.put(b.start(), b.cut(b.start(), e.start()));
        if (b.end() > e.end()) {
          m.put(e.end(), b.cut(e.end(), b.end()));
        }
        delta -= Math.min(b.end(), e.end()) - e.start();
      }
      Iterator<Extent> it = m.subMap(e.start(), true, e.end(), false).values().iterator();
      List<Extent> tails = new ArrayList<>(1);
      while (it.hasNext()) {
        Extent o = it.next();
        it.remove();
        delta -= Math.min(o.end(), e.end()) - o.start();
        if (o.end() > e.end()) {
          tails.add(o.cut(e.end(), o.end()));
        }
      }
      for (Extent t : tails) {
        m.put(t.start(), t);
      }
      m.put(e.start(), e);
      liveBytes.addAndGet(delta);
    }
  }

  /** Whether the log holds anything of chunk {@code index} that its chunk object lacks. */
  boolean has(long index) {
    return chunks.containsKey(index);
  }

  /** The entries of chunk {@code index} that overlap {@code [from, to)}, by offset, cut to that range. */
  List<Extent> overlapping(long index, int from, int to) {
    TreeMap<Integer, Extent> m = chunks.get(index);
    if (m == null) {
      return List.of();
    }
    List<Extent> out = new ArrayList<>();
    synchronized (m) {
      Map.Entry<Integer, Extent> before = m.lowerEntry(from);
      if (before != null && before.getValue().end() > from) {
        Extent b = before.getValue();
        out.add(b.cut(from, Math.min(b.end(), to)));
      }
      for (Extent e : m.subMap(from, true, to, false).values()) {
        out.add(e.cut(e.start(), Math.min(e.end(), to)));
      }
    }
    return out;
  }

  /**
   * The segments {@code [first, last]} were merged into one: each entry of chunk {@code index} naming one of them now
   * names the merged segment as {@code to} maps it (same live range and version, the bytes' place in the new segment).
   */
  void moved(long index, long first, long last, java.util.function.UnaryOperator<Extent> to) {
    TreeMap<Integer, Extent> m = chunks.get(index);
    if (m == null) {
      return;
    }
    synchronized (m) {
      for (Map.Entry<Integer, Extent> e : m.entrySet()) {
        if (e.getValue().inside(first, last)) {
          e.setValue(to.apply(e.getValue()));
        }
      }
    }
  }

  /** The highest chunk version the entries of {@code index} hold, or -1 when there are none. */
  long version(long index) {
    TreeMap<Integer, Extent> m = chunks.get(index);
    if (m == null) {
      return -1;
    }
    long v = -1;
    synchronized (m) {
      for (Extent e : m.values()) {
        v = Math.max(v, e.version());
      }
    }
    return v;
  }

  /** Chunk {@code index} is stored at {@code version}: drops the entries of that version and older. */
  void folded(long index, long version) {
    TreeMap<Integer, Extent> m = chunks.get(index);
    if (m == null) {
      return;
    }
    synchronized (m) {
      Iterator<Extent> it = m.values().iterator();
      while (it.hasNext()) {
        Extent e = it.next();
        if (e.version() <= version) {
          it.remove();
          liveBytes.addAndGet(-(e.end() - e.start()));
        }
      }
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

  /** Forgets everything (the volume closed). */
  void clear() {
    chunks.clear();
    liveBytes.set(0);
  }
}
