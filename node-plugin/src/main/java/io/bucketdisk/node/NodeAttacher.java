package io.bucketdisk.node;

import io.bucketdisk.node.nbd.NegotiatedExport;
import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.node.nbd.GatewayConnector;
import io.bucketdisk.node.netlink.DeviceConfig;
import io.bucketdisk.node.netlink.NbdNetlink;
import io.bucketdisk.node.netlink.NetlinkException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import io.bucketdisk.common.tls.TlsFiles;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Attaches gateway exports as kernel NBD devices: N connections handshaken by {@link GatewayConnector}, then
 * {@code NBD_CMD_CONNECT} with the volume id as backend identifier. Also detaches, resizes and reattaches
 * (fresh sockets through RECONFIGURE). Our copies of the socket fds are closed once the kernel holds its own.
 * Thread-safe: netlink calls are serialised by {@link NbdNetlink}.
 */
final class NodeAttacher {
  private static final Logger log = LoggerFactory.getLogger(NodeAttacher.class);
  private static final java.time.Duration CONNECT_TIMEOUT = java.time.Duration.ofSeconds(10);

  /** Timeouts (seconds) given to the kernel: per request, and how long to wait for a reconnect. */
  record Timeouts(long ioSeconds, long deadConnectionSeconds) {}

  private final NbdNetlink netlink;
  private final Endpoint defaultGateway;
  private final int connections;
  private final Timeouts timeouts;
  private final @Nullable TlsFiles tls;

  NodeAttacher(NbdNetlink netlink, Endpoint defaultGateway, int connections, Timeouts timeouts) {
    this(netlink, defaultGateway, connections, timeouts, null);
  }

  /** As above; connections to a TCP gateway are mutual TLS with {@code tls} when given. */
  NodeAttacher(NbdNetlink netlink, Endpoint defaultGateway, int connections, Timeouts timeouts,
      @Nullable TlsFiles tls) {
    this.tls = tls;
    this.netlink = netlink;
    this.defaultGateway = defaultGateway;
    this.connections = connections;
    this.timeouts = timeouts;
  }

  record Attached(int index, NegotiatedExport export, int connections) {}

  Endpoint defaultGateway() {
    return defaultGateway;
  }

  private GatewayConnector connector(Endpoint gateway) {
    return new GatewayConnector(gateway, CONNECT_TIMEOUT, tls);
  }

  Attached attach(String volumeId, Endpoint gateway) throws IOException {
    try (var conns = connector(gateway).open(volumeId, connections)) {
      var info = conns.export();
      var cfg = new DeviceConfig(info.sizeBytes(), info.kernelBlockSize(), info.transmissionFlags(),
          timeouts.ioSeconds(), timeouts.deadConnectionSeconds(), volumeId, conns.fds());
      int index = netlink.connect(cfg);
      log.info("volume {} attached as /dev/nbd{} ({} bytes, {} connections, flags 0x{})", volumeId, index,
          info.sizeBytes(), conns.sockets().size(), Integer.toHexString(info.transmissionFlags()));
      return new Attached(index, info, conns.sockets().size());
    }
  }

  void detach(String volumeId, int index) throws NetlinkException {
    netlink.disconnect(index);
    log.info("volume {} detached from /dev/nbd{}", volumeId, index);
  }

  /** Hands fresh sockets to device {@code index}; the kernel swaps them for dead ones and drops the rest. */
  int reattach(String volumeId, int index, Endpoint gateway) throws IOException {
    try (var conns = connector(gateway).open(volumeId, connections)) {
      netlink.reconfigure(index, volumeId, OptionalLong.empty(), conns.fds());
      return conns.sockets().size();
    }
  }

  /** Asks the gateway for the export's current size and gives it to the kernel; returns the size. */
  long refreshSize(String volumeId, int index, Endpoint gateway) throws IOException {
    long size;
    try (var conns = connector(gateway).open(volumeId, 1)) {
      size = conns.export().sizeBytes();
    }
    netlink.reconfigure(index, volumeId, OptionalLong.of(size), List.of());
    log.info("volume {} on /dev/nbd{} resized to {} bytes", volumeId, index, size);
    return size;
  }

  /** Whether device {@code index} is configured and serves {@code volumeId} (sysfs backend identifier). */
  boolean serves(String volumeId, int index) throws NetlinkException {
    var st = netlink.status(index);
    if (st.isEmpty() || !st.get().connected()) {
      return false;
    }
    return backend(index).map(volumeId::equals).orElse(false);
  }

  static Optional<String> backend(int index) {
    try {
      return Optional.of(Files.readString(Path.of("/sys/block/nbd" + index + "/backend")).strip());
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  static long deviceBytes(int index) throws IOException {
    return Long.parseLong(Files.readString(Path.of("/sys/block/nbd" + index + "/size")).strip()) * 512;
  }
}
