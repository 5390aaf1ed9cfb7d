package io.bucketdisk.engine.cache;

import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * One chunk's live log extents, sorted by offset and never overlapping, packed into two primitive arrays: 44 bytes
 * an extent instead of a record in a tree map under a boxed key (about 120). A volume's {@link LogIndex} holds one
 * per chunk the log names, and a log of 4 KiB writes names an extent per 4 KiB, so this is the log's bookkeeping
 * that grows with it.
 *
 * <p>Not thread safe: {@link LogIndex} holds this object's monitor around every call.
 */
final class ChunkExtents {
  // per extent: start, end, storedStart, storedLength, segOffset, crc, and (seq - first) << 1 | zero
  private static final int INTS = 7;
  // per extent: seq, version
  private static final int LONGS = 2;

  private int[] ints = new int[4 * INTS];
  private long[] longs = new long[4 * LONGS];
  private int count;

  boolean isEmpty() {
    return count == 0;
  }

  int size() {
    return count;
  }

  /**
   * Puts {@code e} over what it covers: older extents are cut around it, so their live parts shrink to what {@code e}
   * leaves. Returns the change in live bytes.
   */
  long add(LogIndex.Extent e) {
    int from = firstEndingAfter(e.start());
    int to = from;
    long covered = 0;
    while (to < count && start(to) < e.end()) {
      covered += Math.min(end(to), e.end()) - Math.max(start(to), e.start());
      to++;
    }
    boolean head = from < to && start(from) < e.start();
    boolean tail = from < to && end(to - 1) > e.end();
    int room = (head ? 1 : 0) + 1 + (tail ? 1 : 0);
    if (tail) {
      // cut before a head of the same extent overwrites it
      LogIndex.Extent t = get(to - 1);
      LogIndex.Extent h = head ? get(from) : null;
      resize(from, to, room);
      int k = from;
      if (h != null) {
        set(k++, h.cut(h.start(), e.start()));
      }
      set(k++, e);
      set(k, t.cut(e.end(), t.end()));
    } else {
      if (head) {
        ints[from * INTS + 1] = e.start(); // only the end moves
      }
      resize(from, to, room);
      set(head ? from + 1 : from, e);
    }
    return (e.end() - e.start()) - covered;
  }

  /** Appends to {@code out} the extents overlapping {@code [from, to)}, cut to that range, by offset. */
  void overlapping(int from, int to, List<LogIndex.Extent> out) {
    for (int k = firstEndingAfter(from); k < count && start(k) < to; k++) {
      LogIndex.Extent e = get(k);
      out.add(e.cut(Math.max(e.start(), from), Math.min(e.end(), to)));
    }
  }

  /** Adds to {@code out} the live ranges of the extents whose segments begin after segment {@code last}. */
  void loggedAfter(long last, ValidRanges out) {
    for (int k = 0; k < count; k++) {
      if (first(k) > last) {
        out.add(start(k), end(k));
      }
    }
  }

  /** Replaces every extent whose segment lies inside {@code [first, last]} with what {@code to} maps it to. */
  void moved(long first, long last, UnaryOperator<LogIndex.Extent> to) {
    for (int k = 0; k < count; k++) {
      LogIndex.Extent e = get(k);
      if (e.inside(first, last)) {
        LogIndex.Extent m = to.apply(e);
        if (m.start() != e.start() || m.end() != e.end()) {
          throw new IllegalArgumentException("a moved extent keeps its live range: " + e + " -> " + m);
        }
        set(k, m);
      }
    }
  }

  /** The highest chunk version of the extents, or -1 when there are none. */
  long version() {
    long v = -1;
    for (int k = 0; k < count; k++) {
      v = Math.max(v, longs[k * LONGS + 1]);
    }
    return v;
  }

  /** Drops the extents of {@code version} and older; returns the live bytes dropped. */
  long folded(long version) {
    long dropped = 0;
    int kept = 0;
    for (int k = 0; k < count; k++) {
      if (longs[k * LONGS + 1] <= version) {
        dropped += end(k) - start(k);
      } else {
        if (kept != k) {
          System.arraycopy(ints, k * INTS, ints, kept * INTS, INTS);
          System.arraycopy(longs, k * LONGS, longs, kept * LONGS, LONGS);
        }
        kept++;
      }
    }
    count = kept;
    if (count <= ints.length / INTS / 4 && ints.length > 4 * INTS) {
      int capacity = Math.max(4, count * 2);
      ints = Arrays.copyOf(ints, capacity * INTS);
      longs = Arrays.copyOf(longs, capacity * LONGS);
    }
    return dropped;
  }

  private int start(int k) {
    return ints[k * INTS];
  }

  private int end(int k) {
    return ints[k * INTS + 1];
  }

  /** The number of the first segment of the (merged) run that holds extent {@code k}. */
  private long first(int k) {
    return longs[k * LONGS] - (ints[k * INTS + 6] >>> 1);
  }

  /** The first extent ending after {@code offset}: ends rise with starts, as extents do not overlap. */
  private int firstEndingAfter(int offset) {
    int lo = 0;
    int hi = count;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (end(mid) > offset) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }

  /** Makes the slots {@code [from, to)} into {@code room} slots, moving the extents after them. */
  private void resize(int from, int to, int room) {
    int newCount = count - (to - from) + room;
    if (newCount * INTS > ints.length) {
      int capacity = Math.max(newCount, count + (count >> 1));
      ints = Arrays.copyOf(ints, capacity * INTS);
      longs = Arrays.copyOf(longs, capacity * LONGS);
    }
    int after = count - to;
    System.arraycopy(ints, to * INTS, ints, (from + room) * INTS, after * INTS);
    System.arraycopy(longs, to * LONGS, longs, (from + room) * LONGS, after * LONGS);
    count = newCount;
  }

  private LogIndex.Extent get(int k) {
    int i = k * INTS;
    int l = k * LONGS;
    return new LogIndex.Extent(ints[i], ints[i + 1], longs[l], longs[l + 1], ints[i + 2], ints[i + 3], ints[i + 4],
        ints[i + 5], (ints[i + 6] & 1) != 0, first(k));
  }

  private void set(int k, LogIndex.Extent e) {
    int i = k * INTS;
    int l = k * LONGS;
    ints[i] = e.start();
    ints[i + 1] = e.end();
    ints[i + 2] = e.storedStart();
    ints[i + 3] = e.storedLength();
    ints[i + 4] = e.segOffset();
    ints[i + 5] = e.crc();
    long back = e.seq() - e.first();
    if (back < 0 || back > Integer.MAX_VALUE >>> 1) {
      throw new IllegalArgumentException("a segment spans " + back + " numbers: " + e);
    }
    ints[i + 6] = (int) back << 1 | (e.zero() ? 1 : 0);
    longs[l] = e.seq();
    longs[l + 1] = e.version();
  }
}
