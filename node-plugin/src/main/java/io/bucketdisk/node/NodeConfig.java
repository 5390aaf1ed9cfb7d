package io.bucketdisk.node;

import io.bucketdisk.node.nbd.GatewayAddress;
import io.bucketdisk.rpc.UnixSocketServer;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How to run the node plugin: the CSI socket path, this node's id, the gateway's NBD address, connections per
 * volume (more than one needs the gateway's CAN_MULTI_CONN), the state directory, the volume limit, and the
 * kernel timeouts (per request; and how long I/O waits for a reconnect, which is also how long reattach tries).
 */
public record NodeConfig(Path socket, String nodeId, GatewayAddress gateway, int connections, Path stateDir,
    long maxVolumes, Duration ioTimeout, Duration reattachTimeout) {

  public NodeConfig {
    if (nodeId.isBlank() || nodeId.length() > 256) {
      throw new IllegalArgumentException("node id must be 1 to 256 characters");
    }
    if (connections < 1 || connections > 16) {
      throw new IllegalArgumentException("connections must be between 1 and 16");
    }
    if (maxVolumes < 1) {
      throw new IllegalArgumentException("max volumes must be at least 1");
    }
  }

  /** The socket path of a CSI endpoint; see {@link UnixSocketServer#parsePath}. */
  public static Path parseEndpoint(String endpoint) {
    return UnixSocketServer.parsePath(endpoint, "--endpoint");
  }
}
