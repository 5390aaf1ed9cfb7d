package io.bucketdisk.nbd.export;

import java.util.List;

/**
 * What an {@link Export} really supports. The server derives the NBD transmission flags from this record and
 * never advertises a feature that is not here; it also never calls a verb whose flag is false.
 *
 * @param readOnly writes, trims and zeros are refused with EPERM (NBD_FLAG_READ_ONLY)
 * @param canFlush FLUSH is meaningful (NBD_FLAG_SEND_FLUSH)
 * @param canFua FUA is honoured on writes, trims and zeros (NBD_FLAG_SEND_FUA)
 * @param canTrim TRIM (NBD_FLAG_SEND_TRIM)
 * @param canZero WRITE_ZEROES (NBD_FLAG_SEND_WRITE_ZEROES)
 * @param canFastZero FAST_ZERO on WRITE_ZEROES (NBD_FLAG_SEND_FAST_ZERO)
 * @param canCache CACHE (NBD_FLAG_SEND_CACHE)
 * @param canMultiConn a FLUSH on any connection covers writes completed on all (NBD_FLAG_CAN_MULTI_CONN)
 * @param metaContexts the metadata contexts {@link Export#blockStatus} answers, e.g. {@code base:allocation}
 * @param minimumBlockSize NBD_INFO_BLOCK_SIZE minimum, a power of two, 1 to 64 KiB
 * @param preferredBlockSize NBD_INFO_BLOCK_SIZE preferred, a power of two, at least the minimum
 * @param maximumPayload NBD_INFO_BLOCK_SIZE maximum payload, a multiple of the minimum
 */
public record Capabilities(
    boolean readOnly,
    boolean canFlush,
    boolean canFua,
    boolean canTrim,
    boolean canZero,
    boolean canFastZero,
    boolean canCache,
    boolean canMultiConn,
    List<String> metaContexts,
    int minimumBlockSize,
    int preferredBlockSize,
    int maximumPayload) {

  /** The {@code base:allocation} context of the NBD spec: extent flags {@link #HOLE} and {@link #ZERO}. */
  public static final String BASE_ALLOCATION = "base:allocation";
  /** {@code base:allocation} extent flag: the range is not allocated (NBD_STATE_HOLE). */
  public static final int HOLE = 1;
  /** {@code base:allocation} extent flag: the range reads as zeros (NBD_STATE_ZERO). */
  public static final int ZERO = 2;

  public Capabilities {
    metaContexts = List.copyOf(metaContexts);
  }
}
