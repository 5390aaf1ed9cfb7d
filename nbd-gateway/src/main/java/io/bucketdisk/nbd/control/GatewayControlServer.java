package io.bucketdisk.nbd.control;

import io.bucketdisk.nbd.cache.VolumeExportProvider;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway control gRPC server on a Unix socket (grpc-netty-shaded over epoll domain sockets), calls on virtual
 * threads. Refuses to start when another server listens on the path (Netty would silently take it over); replaces
 * a stale socket file. {@link #close()} lets running calls finish for up to 10 s and removes the socket.
 */
public final class GatewayControlServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GatewayControlServer.class);
  private static final int MAX_SUN_PATH = 107;

  private final Server server;
  private final EventLoopGroup group;
  private final ExecutorService executor;
  private final Path socket;

  private GatewayControlServer(Server server, EventLoopGroup group, ExecutorService executor, Path socket) {
    this.server = server;
    this.group = group;
    this.executor = executor;
    this.socket = socket;
  }

  /** The socket path of {@code unix:///abs/path}, {@code unix:/abs/path} or a bare absolute path. */
  public static Path parseAddress(String address) {
    String p = address;
    if (p.startsWith("unix://")) {
      p = p.substring("unix://".length());
    } else if (p.startsWith("unix:")) {
      p = p.substring("unix:".length());
    }
    if (!p.startsWith("/")) {
      throw new IllegalArgumentException("control address '" + address
          + "' is not a Unix socket; use unix:///absolute/path/control.sock");
    }
    return Path.of(p);
  }

  /** Binds {@code socket} and serves the control API over {@code volumes}. */
  public static GatewayControlServer start(Path socket, VolumeExportProvider volumes) throws IOException {
    if (socket.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SUN_PATH) {
      throw new IOException("control socket path " + socket + " is longer than " + MAX_SUN_PATH
          + " bytes (the Unix socket limit); choose a shorter --control path");
    }
    guardAgainstTakeover(socket);
    Path parent = socket.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("control-", 0).factory());
    try {
      Server server = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
          .channelType(EpollServerDomainSocketChannel.class)
          .bossEventLoopGroup(group)
          .workerEventLoopGroup(group)
          .executor(executor)
          .addService(new GatewayControlService(volumes))
          .build()
          .start();
      log.info("gateway control API listening on unix://{}", socket);
      return new GatewayControlServer(server, group, executor, socket);
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
      throw new IOException(socket + " exists and is not a socket; remove it or choose another --control path");
    }
    try (var ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      throw new IOException("another gateway is already serving its control API on " + socket
          + "; stop it first or choose another --control path");
    } catch (ConnectException stale) {
      log.info("replacing stale control socket {} (nobody listening)", socket);
    }
  }

  public Path socket() {
    return socket;
  }

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
    executor.shutdown();
    try {
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      log.debug("could not remove {}: {}", socket, e.toString());
    }
  }
}
