package io.bucketdisk.node.nbd;

/**
 * What the server said about an export in the handshake: size in bytes, the 16-bit transmission flags, and
 * the block-size constraints (0 when the server sent no {@code NBD_INFO_BLOCK_SIZE}).
 */
public record NegotiatedExport(long sizeBytes, int transmissionFlags, int minimumBlockSize, int preferredBlockSize,
    int maximumPayload) {

  public static final int FLAG_HAS_FLAGS = 1, FLAG_READ_ONLY = 1 << 1, FLAG_SEND_FLUSH = 1 << 2,
      FLAG_SEND_FUA = 1 << 3, FLAG_SEND_TRIM = 1 << 5, FLAG_CAN_MULTI_CONN = 1 << 8;

  public boolean canMultiConn() {
    return (transmissionFlags & FLAG_CAN_MULTI_CONN) != 0;
  }

  public boolean readOnly() {
    return (transmissionFlags & FLAG_READ_ONLY) != 0;
  }

  /**
   * The block size to give the kernel: a power of two between 512 and 4096 (the page size, the kernel's
   * upper bound), at least the server's minimum, 4096 when the size allows, since filesystems prefer it.
   */
  public long kernelBlockSize() {
    long bs = sizeBytes % 4096 == 0 ? 4096 : 512;
    return Math.max(bs, Math.min(4096, Math.max(512, Integer.highestOneBit(Math.max(1, minimumBlockSize)))));
  }
}
