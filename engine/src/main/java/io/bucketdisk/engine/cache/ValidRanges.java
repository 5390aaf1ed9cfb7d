package io.bucketdisk.engine.cache;

import java.util.Arrays;

/**
 * The byte ranges of one chunk buffer that hold the volume's current contents, as sorted, disjoint, non-adjacent
 * half-open intervals {@code [start, end)} within {@code [0, limit)}.
 *
 * <p>A partial write to a chunk that is not cached only records the written range here, so the write path never
 * downloads the chunk; the missing ranges are filled from the store at upload or read time ({@link #forEachMissing}).
 * Not thread safe: guarded by the owning {@link ChunkBuffer}'s monitor.
 */
final class ValidRanges {
  private final int limit;
  private int[] bounds = new int[4];
  private int count;

  ValidRanges(int limit) {
    this.limit = limit;
  }

  int limit() {
    return limit;
  }

  boolean isFull() {
    return count == 1 && bounds[0] == 0 && bounds[1] == limit;
  }

  boolean isEmpty() {
    return count == 0;
  }

  /** Number of disjoint valid ranges. */
  int rangeCount() {
    return count;
  }

  void setFull() {
    count = 1;
    bounds[0] = 0;
    bounds[1] = limit;
  }

  void clear() {
    count = 0;
  }

  /** Total valid bytes. */
  int validBytes() {
    int sum = 0;
    for (int r = 0; r < count; r++) {
      sum += bounds[2 * r + 1] - bounds[2 * r];
    }
    return sum;
  }

  /** The ranges as {@code [start0, end0, start1, end1, ...]}, a copy. */
  int[] toArray() {
    return java.util.Arrays.copyOf(bounds, 2 * count);
  }

  /**
   * The ranges as {@link #toArray}, each cut where it crosses a multiple of {@code piece}: no part longer than {@code
   * piece} or spanning two of its aligned blocks.
   */
  int[] toPieces(int piece) {
    int n = 0;
    for (int r = 0; r < count; r++) {
      n += (bounds[2 * r + 1] - 1) / piece - bounds[2 * r] / piece + 1;
    }
    int[] out = new int[2 * n];
    int k = 0;
    for (int r = 0; r < count; r++) {
      int end = bounds[2 * r + 1];
      for (int at = bounds[2 * r]; at < end; at = (at / piece + 1) * piece) {
        out[k++] = at;
        out[k++] = Math.min(end, (at / piece + 1) * piece);
      }
    }
    return out;
  }

  /** Marks {@code [start, end)} valid, merging with overlapping or adjacent ranges. */
  void add(int start, int end) {
    if (start < 0 || end > limit || start > end) {
      throw new IllegalArgumentException("range [" + start + ", " + end + ") outside [0, " + limit + ")");
    }
    if (start == end) {
      return;
    }
    int first = 0;
    while (first < count && bounds[2 * first + 1] < start) {
      first++;
    }
    int last = first;
    while (last < count && bounds[2 * last] <= end) {
      last++;
    }
    // ranges [first, last) touch [start, end)
    if (first == last) {
      ensureCapacity(count + 1);
      System.arraycopy(bounds, 2 * first, bounds, 2 * first + 2, 2 * (count - first));
      bounds[2 * first] = start;
      bounds[2 * first + 1] = end;
      count++;
      return;
    }
    int mergedStart = Math.min(start, bounds[2 * first]);
    int mergedEnd = Math.max(end, bounds[2 * (last - 1) + 1]);
    bounds[2 * first] = mergedStart;
    bounds[2 * first + 1] = mergedEnd;
    int removed = last - first - 1;
    if (removed > 0) {
      System.arraycopy(bounds, 2 * last, bounds, 2 * first + 2, 2 * (count - last));
      count -= removed;
    }
  }

  /** True when every byte of {@code [start, end)} is valid. */
  boolean covers(int start, int end) {
    if (start >= end) {
      return true;
    }
    for (int r = 0; r < count; r++) {
      int s = bounds[2 * r];
      int e = bounds[2 * r + 1];
      if (s > start) {
        return false;
      }
      if (e >= end) {
        return true;
      }
      if (e > start) {
        return false;
      }
    }
    return false;
  }

  /** Receives one range. */
  @FunctionalInterface
  interface RangeConsumer {
    void range(int start, int end);
  }

  /** Calls {@code consumer} for each maximal invalid range of {@code [0, limit)}, in order. */
  void forEachMissing(RangeConsumer consumer) {
    int pos = 0;
    for (int r = 0; r < count; r++) {
      if (bounds[2 * r] > pos) {
        consumer.range(pos, bounds[2 * r]);
      }
      pos = bounds[2 * r + 1];
    }
    if (pos < limit) {
      consumer.range(pos, limit);
    }
  }

  /** The maximal invalid ranges of {@code [0, limit)} as {@code [start0, end0, ...]}, in order. */
  int[] missingArray() {
    int[] out = new int[2 * (count + 1)];
    int[] n = {0};
    forEachMissing((s, e) -> {
      out[n[0]++] = s;
      out[n[0]++] = e;
    });
    return Arrays.copyOf(out, n[0]);
  }

  private void ensureCapacity(int ranges) {
    if (bounds.length < 2 * ranges) {
      bounds = Arrays.copyOf(bounds, Math.max(2 * ranges, bounds.length * 2));
    }
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("[");
    for (int r = 0; r < count; r++) {
      sb.append(r == 0 ? "" : ", ").append(bounds[2 * r]).append('-').append(bounds[2 * r + 1]);
    }
    return sb.append(']').toString();
  }
}
