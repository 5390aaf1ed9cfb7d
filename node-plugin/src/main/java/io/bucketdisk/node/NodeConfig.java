package io.bucketdisk.node;

import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.common.tls.TlsFiles;
import io.bucketdisk.rpc.UnixSocketServer;
import java.nio.file.Path;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * How to run the node plugin: the CSI socket path, this node's id, the gateway's NBD address, connections per
 * volume (more than one needs the gateway's CAN_MULTI_CONN), the state directory, the volume limit, and the
 * kernel timeouts (per request; and how long I/O waits for a reconnect, which is also how long reattach tries), and
 * the gateway's control API address ({@code unix:///path} or {@code tcp://HOST:PORT}), through which ephemeral inline
 * volumes are created and deleted, and the TLS material for gateways reached over TCP (another node's, or the own
 * one's control API if it is on TCP): this node's certificate, whose CN is the node id, and the CA the gateways'
 * certificates chain to; null for plain connections (Unix sockets, loopback).
 */
public record NodeConfig(Path socket, String nodeId, Endpoint gateway, int connections, Path stateDir,
    long maxVolumes, Duration ioTimeout, Duration reattachTimeout, String gatewayControl, @Nullable TlsFiles tls) {

  /** Where the gateway on this node serves its control API (the hostPath shared with the gateway). */
  public static final String DEFAULT_GATEWAY_CONTROL = "unix:///run/bucketdisk/control.sock";

  /** As the canonical constructor, with the gateway control API at {@link #DEFAULT_GATEWAY_CONTROL}. */
  public NodeConfig(Path socket, String nodeId, Endpoint gateway, int connections, Path stateDir,
      long maxVolumes, Duration ioTimeout, Duration reattachTimeout) {
    this(socket, nodeId, gateway, connections, stateDir, maxVolumes, ioTimeout, reattachTimeout,
        DEFAULT_GATEWAY_CONTROL, null);
  }

  /** As the canonical constructor, without TLS. */
  public NodeConfig(Path socket, String nodeId, Endpoint gateway, int connections, Path stateDir,
      long maxVolumes, Duration ioTimeout, Duration reattachTimeout, String gatewayControl) {
    this(socket, nodeId, gateway, connections, stateDir, maxVolumes, ioTimeout, reattachTimeout, gatewayControl, null);
  }

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
    GatewayControl.target(gatewayControl);
  }

  /** The socket path of a CSI endpoint; see {@link Endpoint#parseUnix}. */
  public static Path parseEndpoint(String endpoint) {
    return Endpoint.parseUnix(endpoint, "--endpoint").path();
  }
}
