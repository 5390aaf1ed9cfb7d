package io.bucketdisk.node.netlink;

import java.util.List;

/**
 * What {@code NBD_CMD_CONNECT} gives the kernel for one device: the export size and transmission flags from
 * the NBD handshake, the block size, timeouts in seconds (0 = the kernel's default behaviour, reference §4.8),
 * the backend identifier (our volume id, shown in {@code /sys/block/nbdN/backend} and required again by
 * RECONFIGURE) and the connected, handshaken socket fds. More than one fd needs {@code CAN_MULTI_CONN} in
 * {@code serverFlags}.
 */
public record DeviceConfig(long sizeBytes, long blockSizeBytes, int serverFlags, long timeoutSeconds,
    long deadConnTimeoutSeconds, String backendIdentifier, List<Integer> socketFds) {

  /** NBD transmission flag {@code NBD_FLAG_CAN_MULTI_CONN} (bit 8). */
  public static final int FLAG_CAN_MULTI_CONN = 1 << 8;

  public DeviceConfig {
    socketFds = List.copyOf(socketFds);
    if (socketFds.isEmpty()) {
      throw new IllegalArgumentException("at least one socket is needed");
    }
    if (socketFds.size() > 1 && (serverFlags & FLAG_CAN_MULTI_CONN) == 0) {
      throw new IllegalArgumentException("the server does not offer CAN_MULTI_CONN; only one connection is allowed");
    }
    if (blockSizeBytes < 512 || Long.bitCount(blockSizeBytes) != 1) {
      throw new IllegalArgumentException("block size must be a power of two >= 512: " + blockSizeBytes);
    }
  }
}
