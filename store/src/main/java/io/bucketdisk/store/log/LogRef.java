package io.bucketdisk.store.log;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * One log segment as named by its key: the range {@code [first, seq]} of sequence numbers it covers and the epoch of
 * the writer that stored it. A segment a writer stores for a FLUSH covers one number ({@code first == seq}); a merged
 * segment covers the run of segments it replaced ({@code first < seq}) and holds their bytes, less those a later
 * segment writes again.
 *
 * <p>A writer numbers its segments 1, 2, 3, ... without gaps and reuses a number whose PUT failed, so the log it
 * leaves is a run of consecutive numbers; a new writer continues after the highest number it saw, in an epoch at
 * least as high (a takeover bumps the epoch).
 */
public record LogRef(long first, long seq, long epoch) {
  private static final Comparator<LogRef> ORDER = Comparator.comparingLong(LogRef::first)
      .thenComparing(Comparator.comparingLong(LogRef::seq).reversed())
      .thenComparing(Comparator.comparingLong(LogRef::epoch).reversed());

  public LogRef {
    if (first > seq) {
      throw new IllegalArgumentException("log range " + first + ".." + seq);
    }
  }

  /** A segment of one number. */
  public LogRef(long seq, long epoch) {
    this(seq, seq, epoch);
  }

  /** Whether this segment replaced a run of segments. */
  public boolean merged() {
    return first < seq;
  }

  /**
   * The segments a replay applies, in order, out of all that are stored. Sorted by first number (the widest range
   * first, then the highest epoch), a segment is taken when it continues the run taken so far:
   *
   * <ul>
   *   <li>its epoch is below one already taken: skipped (a fenced writer's late PUT; of two with one number, the
   *       higher epoch wins);
   *   <li>its range ends inside what is taken: skipped (a merged segment taken covers it: an original whose delete
   *       did not happen yet, or an older merge of part of that run);
   *   <li>its range starts past the next number: the run stops (a gap: what landed after it is not applied);
   *   <li>else it is taken, also when it starts inside what is taken (a merge whose PUT landed but was reported
   *       failed, then part of its run merged again): every segment holds the newest bytes of its range, so
   *       applying both in this order gives what the originals would.
   * </ul>
   */
  public static List<LogRef> replayOrder(List<LogRef> stored) {
    List<LogRef> sorted = new ArrayList<>(stored);
    sorted.sort(ORDER);
    List<LogRef> out = new ArrayList<>();
    long epoch = -1;
    long expected = -1;
    for (LogRef r : sorted) {
      if (r.epoch < epoch) {
        continue;
      }
      if (expected >= 0 && r.seq < expected) {
        continue;
      }
      if (expected >= 0 && r.first > expected) {
        break;
      }
      out.add(r);
      epoch = r.epoch;
      expected = r.seq + 1;
    }
    return out;
  }
}
