package io.bucketdisk.node;

import io.bucketdisk.node.netlink.NbdNetlink;
import io.bucketdisk.node.netlink.NetlinkException;
import io.grpc.Server;
import io.bucketdisk.metrics.GrpcServerMetrics;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
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

  private final Server server;
  private final EventLoopGroup group;
  private final ExecutorService executor;
  private final ReattachWatcher watcher;
  private final NbdNetlink netlink;

  private NodePlugin(Server server, EventLoopGroup group, ExecutorService executor, ReattachWatcher watcher,
      NbdNetlink netlink) {
    this.server = server;
    this.group = group;
    this.executor = executor;
    this.watcher = watcher;
    this.netlink = netlink;
  }

  public static NodePlugin start(NodeConfig config) throws IOException {
    return start(config, null);
  }

  /** As {@link #start(NodeConfig)}; with a registry, every RPC is timed by {@link GrpcServerMetrics}. */
  public static NodePlugin start(NodeConfig config, io.micrometer.core.instrument.@Nullable MeterRegistry metrics)
      throws IOException {
    var socket = config.socket();
    if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
      if (Files.isRegularFile(socket, LinkOption.NOFOLLOW_LINKS) || Files.isDirectory(socket, LinkOption.NOFOLLOW_LINKS)) {
        throw new IOException(socket + " exists and is not a socket; remove it or choose another endpoint");
      }
      try (var ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
        ch.connect(UnixDomainSocketAddress.of(socket));
        throw new IOException("another server is already listening on " + socket);
      } catch (IOException e) {
        if (e.getMessage() != null && e.getMessage().startsWith("another server")) {
          throw e;
        }
        // stale socket: Netty replaces it
      }
    }
    var netlink = NbdNetlink.open();
    var state = new StagingState(config.stateDir());
    var attacher = new NodeAttacher(netlink, config.gateway(),
        config.connections(), new NodeAttacher.Timeouts(config.ioTimeout().toSeconds(), config.reattachTimeout().toSeconds()));
    for (var v : state.all()) {
      boolean ok = attacher.serves(v.volumeId(), v.deviceIndex());
      log.info("volume {}: staged on /dev/nbd{} at {} ({})", v.volumeId(), v.deviceIndex(), v.stagingPath(),
          ok ? "device attached" : "device NOT attached; the next NodeStageVolume re-attaches it");
    }
    var watcher = new ReattachWatcher(netlink.subscribeLinkDead(), attacher, state, config.reattachTimeout());
    watcher.start();
    watcher.reconcile();
    var node = new NodeService(config.nodeId(), config.maxVolumes(), attacher, new Mounter(), state);
    var identity = new IdentityService(() -> {
      try {
        netlink.status();
        return true;
      } catch (NetlinkException e) {
        return false;
      }
    });
    Files.createDirectories(socket.toAbsolutePath().getParent());
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
    ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("csi-node-", 0).factory());
    try {
      Server server = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
          .channelType(EpollServerDomainSocketChannel.class)
          .bossEventLoopGroup(group).workerEventLoopGroup(group).executor(executor)
          .addService(metrics == null ? identity.bindService()
              : ServerInterceptors.intercept(identity, new GrpcServerMetrics(metrics)))
          .addService(metrics == null ? node.bindService()
              : ServerInterceptors.intercept(node, new GrpcServerMetrics(metrics)))
          .build().start();
      log.info("CSI node plugin for node {} listening on unix://{} (gateway {}, {} connections per volume)",
          config.nodeId(), socket, config.gateway(), config.connections());
      return new NodePlugin(server, group, executor, watcher, netlink);
    } catch (IOException | RuntimeException e) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      executor.shutdownNow();
      watcher.close();
      netlink.close();
      throw new IOException("cannot listen on " + socket + ": " + e.getMessage(), e);
    }
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  @Override
  public void close() {
    server.shutdown();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    server.shutdownNow();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    executor.shutdownNow();
    watcher.close();
    netlink.close();
  }
}
