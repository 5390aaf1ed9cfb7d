package io.bucketdisk.nbd.server;

import static io.bucketdisk.nbd.wire.NbdConstants.CMD_FLAG_REQ_ONE;

import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.wire.RequestHeader;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/**
 * The extents of one BLOCK_STATUS request, per selected metadata context (NBD spec "BLOCK_STATUS"): all gathered
 * from the export first, then sent as one reply chunk per context.
 *
 * <p>Not thread safe: built and sent by the thread serving the request. {@link #collect} throws the export's
 * {@link IOException}, or one of its own when a context described no extent; nothing has been written then.
 */
final class BlockStatus {
  private final long[][] lengths;
  private final int[][] flags;
  private final int[] counts;

  private BlockStatus(int contexts) {
    lengths = new long[contexts][];
    flags = new int[contexts][];
    counts = new int[contexts];
  }

  /**
   * Asks every context before replying, so an export error becomes one error reply, not a half-sent one.
   *
   * @param contexts the selected contexts; context id {@code i + 1} names {@code contexts.get(i)}
   */
  static BlockStatus collect(Export export, List<String> contexts, RequestHeader h) throws IOException {
    boolean one = h.has(CMD_FLAG_REQ_ONE);
    var extents = new ExtentCollector(h.length(), one);
    var status = new BlockStatus(contexts.size());
    for (int i = 0; i < contexts.size(); i++) {
      extents.reset();
      export.blockStatus(contexts.get(i), h.offset(), h.length(), one ? Export.REQ_ONE : 0, extents);
      if (extents.count() == 0) {
        throw new IOException("export described no extent in " + contexts.get(i));
      }
      status.lengths[i] = extents.lengths();
      status.flags[i] = extents.flags();
      status.counts[i] = extents.count();
    }
    return status;
  }

  /** Sends the reply: one chunk per context, in context id order, the last one flagged as done. */
  void reply(ReplyWriter writer, RequestHeader h) throws IOException {
    for (int i = 0; i < counts.length; i++) {
      writer.blockStatus(h, i + 1, lengths[i], flags[i], counts[i], i == counts.length - 1);
    }
  }

  /**
   * Gathers extents for one context: clipped to the request, equal neighbours merged, at most one with
   * REQ_ONE, at most 2^20 descriptors (NBD spec "BLOCK_STATUS": SHOULD NOT send more per chunk).
   */
  static final class ExtentCollector implements Export.ExtentSink {
    private static final int MAX_EXTENTS = 1 << 20;
    private final long length;
    private final boolean one;
    private long[] lengths = new long[16];
    private int[] flags = new int[16];
    private int count;
    private long sum;

    ExtentCollector(long length, boolean one) {
      this.length = length;
      this.one = one;
    }

    void reset() {
      count = 0;
      sum = 0;
    }

    int count() {
      return count;
    }

    /** A copy of the gathered lengths. */
    long[] lengths() {
      return Arrays.copyOf(lengths, count);
    }

    /** A copy of the gathered flags. */
    int[] flags() {
      return Arrays.copyOf(flags, count);
    }

    @Override
    public boolean extent(long extentLength, int extentFlags) {
      if (extentLength <= 0 || sum >= length) {
        return false;
      }
      long l = Math.min(extentLength, length - sum);
      if (count > 0 && flags[count - 1] == extentFlags) {
        lengths[count - 1] += l;
      } else {
        if (count == lengths.length) {
          lengths = Arrays.copyOf(lengths, count * 2);
          flags = Arrays.copyOf(flags, count * 2);
        }
        lengths[count] = l;
        flags[count] = extentFlags;
        count++;
      }
      sum += l;
      return !one && sum < length && count < MAX_EXTENTS;
    }
  }
}
