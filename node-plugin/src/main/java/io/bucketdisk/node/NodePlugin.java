package io.bucketdisk.node;

import io.bucketdisk.metrics.GrpcServerMetrics;
import io.bucketdisk.node.netlink.NbdNetlink;
import io.bucketdisk.node.netlink.NetlinkException;
import io.bucketdisk.rpc.UnixSocketServer;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running node plugin: resolves the kernel's nbd netlink family, loads the staging state, starts the
 * {@link ReattachWatcher} and serves CSI Identity + Node on the Unix socket (epoll, handlers on virtual
 * threads). {@link #start} fails with {@link NetlinkException} ("run modprobe nbd") when the module is
 * missing, and with {@link IOException} when something already listens on the socket. {@link #close()}
 * stops serving and leaves attached devices alone: the kernel keeps them.
 */
public final class NodePlugin implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NodePlugin.class);

  private static final UnixSocketServer.Options OPTIONS =
      new UnixSocketServer.Options("CSI node endpoint", "--endpoint", 2, Duration.ofSeconds(5));

  private final UnixSocketServer server;
  private final ReattachWatcher watcher;
  private final NbdNetlink netlink;
  private final GatewayControl control;

  private NodePlugin(UnixSocketServer server, ReattachWatcher watcher, NbdNetlink netlink, GatewayControl control) {
    this.server = server;
    this.watcher = watcher;
    this.netlink = netlink;
    this.control = control;
  }

  public static NodePlugin start(NodeConfig config) throws IOException {
    return start(config, null);
  }

  /** As {@link #start(NodeConfig)}; with a registry, every RPC is timed by {@link GrpcServerMetrics}. */
  public static NodePlugin start(NodeConfig config, io.micrometer.core.instrument.@Nullable MeterRegistry metrics)
      throws IOException {
    var socket = config.socket();
    UnixSocketServer.checkFree(socket, OPTIONS);
    var netlink = NbdNetlink.open();
    var state = new StagingState(config.stateDir());
    var attacher = new NodeAttacher(netlink, config.gateway(),
        config.connections(), new NodeAttacher.Timeouts(config.ioTimeout().toSeconds(), config.reattachTimeout().toSeconds()),
        config.tls());
    for (var v : state.all()) {
      boolean ok = v.deviceIndex() >= 0 && attacher.serves(v.exportName(), v.deviceIndex());
      log.info("volume {}: staged on /dev/nbd{} at {} ({})", v.volumeId(), v.deviceIndex(), v.stagingPath(),
          ok ? "device attached" : "device NOT attached; the next NodeStageVolume re-attaches it");
    }
    var watcher = new ReattachWatcher(netlink.subscribeLinkDead(), attacher, state, config.reattachTimeout());
    watcher.start();
    watcher.reconcile();
    var control = new GatewayControl(config.gatewayControl(), config.tls());
    var node = new NodeService(config.nodeId(), config.maxVolumes(), attacher, new Mounter(), state, control);
    var identity = new IdentityService(() -> {
      try {
        netlink.status();
        return true;
      } catch (NetlinkException e) {
        return false;
      }
    });
    try {
      var server = UnixSocketServer.start(socket, OPTIONS,
          List.of(GrpcServerMetrics.bind(identity, metrics), GrpcServerMetrics.bind(node, metrics)));
      log.info("CSI node plugin for node {} on unix://{} (gateway {}, {} connections per volume)",
          config.nodeId(), socket, config.gateway(), config.connections());
      return new NodePlugin(server, watcher, netlink, control);
    } catch (IOException | RuntimeException e) {
      control.close();
      watcher.close();
      netlink.close();
      throw e;
    }
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /** Stops serving (running calls get up to 5 s) and removes the socket; attached devices stay attached. */
  @Override
  public void close() {
    server.close();
    control.close();
    watcher.close();
    netlink.close();
  }
}
