package io.bucketdisk.store.log;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * One log segment as named by its key: its sequence number and the epoch of the writer that stored it.
 *
 * <p>A writer numbers its segments 1, 2, 3, ... without gaps and reuses a number whose PUT failed, so the log it
 * leaves is a run of consecutive numbers; a new writer continues after the highest number it saw, in an epoch at
 * least as high (a takeover bumps the epoch).
 */
public record LogRef(long seq, long epoch) {
  private static final Comparator<LogRef> ORDER =
      Comparator.comparingLong(LogRef::seq).thenComparing(Comparator.comparingLong(LogRef::epoch).reversed());

  /**
   * The segments a replay applies, in order, out of all that are stored: ascending by number, and along that order
   * the epoch never falls. A segment whose epoch is below one already taken is a fenced writer's late PUT and is
   * skipped (of two with one number, the higher epoch wins). The run stops before a missing number: a segment that
   * landed after a missing one is not applied.
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
      if (expected >= 0 && r.seq != expected) {
        break;
      }
      out.add(r);
      epoch = r.epoch;
      expected = r.seq + 1;
    }
    return out;
  }
}
