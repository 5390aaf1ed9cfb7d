package io.bucketdisk.controller;

import io.bucketdisk.metrics.GrpcServerMetrics;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A gRPC server on a Unix domain socket (the only transport CSI allows: spec.md §CSI_ENDPOINT), epoll transport of
 * grpc-netty-shaded, handlers on virtual threads.
 *
 * <p><b>Socket takeover guard.</b> Netty unlinks whatever is at the path before binding, so a second server would
 * silently steal a live socket from the first. {@link #start} therefore connects to an existing socket first and
 * refuses to start when something answers; a stale socket (nobody listening) is replaced, and a path that is not a
 * socket is refused. On {@link #close} the socket file is removed.
 *
 * <p>With a {@link MeterRegistry}, every call is timed by {@link GrpcServerMetrics} as {@code
 * bucketdisk.grpc.server.requests} (tags: service, method, code).
 */
public final class CsiServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(CsiServer.class);
  private static final int MAX_SUN_PATH = 107;

  private final Server server;
  private final EventLoopGroup group;
  private final ExecutorService executor;
  private final Path socket;

  private CsiServer(Server server, EventLoopGroup group, ExecutorService executor, Path socket) {
    this.server = server;
    this.group = group;
    this.executor = executor;
    this.socket = socket;
  }

  /**
   * The socket path of a CSI endpoint: {@code unix:///abs/path}, {@code unix:/abs/path} or a bare absolute path.
   * Anything else is an {@link IllegalArgumentException} naming the expected form.
   */
  public static Path parseEndpoint(String endpoint) {
    String p = endpoint;
    if (p.startsWith("unix://")) {
      p = p.substring("unix://".length());
    } else if (p.startsWith("unix:")) {
      p = p.substring("unix:".length());
    }
    if (!p.startsWith("/") || p.contains(":")) {
      throw new IllegalArgumentException("endpoint '" + endpoint
          + "' is not a Unix socket; use unix:///absolute/path/csi.sock");
    }
    return Path.of(p);
  }

  /** Binds {@code socket} and starts serving {@code services}. */
  public static CsiServer start(Path socket, List<BindableService> services, @Nullable MeterRegistry metrics)
      throws IOException {
    if (socket.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SUN_PATH) {
      throw new IOException("socket path " + socket + " is longer than " + MAX_SUN_PATH
          + " bytes (the Unix socket limit); choose a shorter --endpoint");
    }
    guardAgainstTakeover(socket);
    Files.createDirectories(socket.toAbsolutePath().getParent());
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
    ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("csi-", 0).factory());
    var builder = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollServerDomainSocketChannel.class)
        .bossEventLoopGroup(group)
        .workerEventLoopGroup(group)
        .executor(executor);
    for (BindableService s : services) {
      builder.addService(metrics == null ? s.bindService()
          : ServerInterceptors.intercept(s, new GrpcServerMetrics(metrics)));
    }
    try {
      Server server = builder.build().start();
      log.info("CSI endpoint listening on unix://{}", socket);
      return new CsiServer(server, group, executor, socket);
    } catch (IOException | RuntimeException e) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      executor.shutdownNow();
      throw new IOException("cannot listen on " + socket + ": " + e.getMessage(), e);
    }
  }

  private static void guardAgainstTakeover(Path socket) throws IOException {
    if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (Files.isRegularFile(socket, LinkOption.NOFOLLOW_LINKS) || Files.isDirectory(socket, LinkOption.NOFOLLOW_LINKS)) {
      throw new IOException(socket + " exists and is not a socket; remove it or choose another endpoint");
    }
    try (var ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      throw new IOException("another server is already listening on " + socket
          + "; stop it first or choose another endpoint");
    } catch (ConnectException stale) {
      log.info("replacing stale socket {} (nobody listening)", socket);
    }
  }

  public Path socket() {
    return socket;
  }

  /** Blocks until the server terminates. */
  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /** Stops accepting calls, lets running calls finish for up to 10 s, removes the socket. */
  @Override
  public void close() {
    server.shutdown();
    try {
      if (!server.awaitTermination(10, TimeUnit.SECONDS)) {
        server.shutdownNow();
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    executor.shutdownNow();
    try {
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      log.warn("could not remove socket {}: {}", socket, e.getMessage());
    }
    log.info("CSI endpoint unix://{} closed", socket);
  }
}
