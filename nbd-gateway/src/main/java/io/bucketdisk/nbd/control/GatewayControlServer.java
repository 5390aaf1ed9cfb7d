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
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway control gRPC server on a Unix socket (grpc-netty-shaded over epoll domain sockets) or on TCP ({@code
 * tcp://HOST:PORT}, so a controller on another node can reach it; unauthenticated, limit who can connect), calls on
 * virtual threads. On a Unix socket it refuses to start when another server listens on the path (Netty would
 * silently take it over) and replaces a stale socket file. {@link #close()} lets running calls finish for up to 10 s
 * and removes the socket.
 */
public final class GatewayControlServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GatewayControlServer.class);
  private static final int MAX_SUN_PATH = 107;

  private final Server server;
  private final @Nullable EventLoopGroup group;
  private final ExecutorService executor;
  private final @Nullable Path socket;
  private final String address;

  private GatewayControlServer(Server server, @Nullable EventLoopGroup group, ExecutorService executor,
      @Nullable Path socket, String address) {
    this.server = server;
    this.group = group;
    this.executor = executor;
    this.socket = socket;
    this.address = address;
  }

  /**
   * Starts on {@code address}: {@code unix:///abs/path} (or a bare absolute path) or {@code tcp://HOST:PORT}
   * ({@code tcp://0.0.0.0:9820}, {@code tcp://[::1]:0}).
   *
   * @throws IllegalArgumentException for an address of neither form, with a message naming the fix
   */
  public static GatewayControlServer start(String address, VolumeExportProvider volumes) throws IOException {
    if (address.startsWith("tcp:")) {
      return start(parseTcpAddress(address), volumes);
    }
    return start(parseAddress(address), volumes);
  }

  /** The socket address of {@code tcp://HOST:PORT} or {@code tcp://[IPV6]:PORT}, not resolved yet. */
  public static InetSocketAddress parseTcpAddress(String address) {
    String fix = "; use tcp://HOST:PORT, e.g. tcp://0.0.0.0:9820";
    URI uri;
    try {
      uri = new URI(address);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("control address '" + address + "' is not valid" + fix);
    }
    String host = uri.getHost();
    int port = uri.getPort();
    String path = uri.getRawPath();
    if (!"tcp".equals(uri.getScheme()) || host == null || port < 0 || port > 65535 || uri.getRawUserInfo() != null
        || (path != null && !path.isEmpty()) || uri.getRawQuery() != null || uri.getRawFragment() != null) {
      throw new IllegalArgumentException("control address '" + address + "' needs a host and a port" + fix);
    }
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    return InetSocketAddress.createUnresolved(host, port);
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
          + "' is neither a Unix socket nor TCP; use unix:///absolute/path/control.sock or tcp://HOST:PORT");
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
      return new GatewayControlServer(server, group, executor, socket, "unix://" + socket);
    } catch (IOException | RuntimeException e) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      executor.shutdownNow();
      throw new IOException("cannot listen on " + socket + ": " + e.getMessage(), e);
    }
  }

  /** Binds TCP {@code address} (resolved here; port 0 picks a free port) and serves the control API. */
  public static GatewayControlServer start(InetSocketAddress address, VolumeExportProvider volumes)
      throws IOException {
    InetSocketAddress bind = address.isUnresolved()
        ? new InetSocketAddress(address.getHostString(), address.getPort()) : address;
    if (bind.isUnresolved()) {
      throw new IOException("cannot resolve control host '" + address.getHostString()
          + "'; use an IP address such as 0.0.0.0 in tcp://HOST:PORT");
    }
    ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("control-", 0).factory());
    try {
      Server server = NettyServerBuilder.forAddress(bind)
          .executor(executor)
          .addService(new GatewayControlService(volumes))
          .build()
          .start();
      var bound = (InetSocketAddress) server.getListenSockets().getFirst();
      String uri = "tcp://" + hostPort(bound);
      log.info("gateway control API listening on {}", uri);
      return new GatewayControlServer(server, null, executor, null, uri);
    } catch (IOException | RuntimeException e) {
      executor.shutdownNow();
      throw new IOException("cannot listen on tcp://" + hostPort(bind) + ": " + e.getMessage()
          + "; pick another host or port", e);
    }
  }

  private static String hostPort(InetSocketAddress a) {
    String host = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
    boolean v6 = a.getAddress() instanceof Inet6Address || host.contains(":");
    if (v6) {
      int zone = host.indexOf('%');
      host = "[" + (zone >= 0 ? host.substring(0, zone) : host) + "]";
    }
    return host + ":" + a.getPort();
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

  /** The Unix socket path, or null when serving on TCP. */
  public @Nullable Path socket() {
    return socket;
  }

  /** Where the server listens, as {@code unix:///path} or {@code tcp://HOST:PORT} with the bound port. */
  public String address() {
    return address;
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
    if (group != null) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
    executor.shutdown();
    if (socket == null) {
      return;
    }
    try {
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      log.debug("could not remove {}: {}", socket, e.toString());
    }
  }
}
