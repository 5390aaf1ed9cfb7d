package io.bucketdisk.nbd.control;

import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.engine.volume.VolumeRegistry;
import io.bucketdisk.rpc.UnixSocketServer;
import io.bucketdisk.common.tls.TlsFiles;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway control gRPC server on a Unix socket (grpc-netty-shaded over epoll domain sockets) or on TCP ({@code
 * tcp://HOST:PORT}, so a controller on another node can reach it), calls on virtual threads. On TCP with {@link
 * TlsFiles} it is mutual TLS (a client certificate from the CA is required, rotated files are picked up per
 * connection) and {@link ControlAccess} decides per call what the certificate's holder may do; without them it is
 * unauthenticated, which the gateway command allows only on loopback or with {@code --insecure}. On a Unix socket it is a {@link UnixSocketServer} (takeover guard, stale socket replaced).
 * {@link #close()} lets running calls finish for up to 10 s and removes the socket.
 */
public final class GatewayControlServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GatewayControlServer.class);
  private static final UnixSocketServer.Options UNIX_OPTIONS =
      new UnixSocketServer.Options("gateway control API", "--control", 1, Duration.ofSeconds(10));

  /** Exactly one of {@code tcp} (with its executor) and {@code unix} is set. */
  private final @Nullable Server tcp;
  private final @Nullable UnixSocketServer unix;
  private final @Nullable ExecutorService tcpExecutor;
  private final String address;

  private GatewayControlServer(@Nullable Server tcp, @Nullable UnixSocketServer unix,
      @Nullable ExecutorService tcpExecutor, String address) {
    this.tcp = tcp;
    this.unix = unix;
    this.tcpExecutor = tcpExecutor;
    this.address = address;
  }

  /**
   * Starts on {@code address}, an {@link Endpoint}: {@code unix:///abs/path} or {@code tcp://HOST:PORT} ({@code
   * tcp://0.0.0.0:9820}, {@code tcp://[::1]:0}).
   *
   * @throws IllegalArgumentException for an address of neither form, with a message naming the fix
   */
  public static GatewayControlServer start(String address, VolumeRegistry volumes) throws IOException {
    return start(address, volumes, null);
  }

  /** As above; a TCP address with {@code tls} serves mutual TLS (Unix sockets ignore it). */
  public static GatewayControlServer start(String address, VolumeRegistry volumes, @Nullable TlsFiles tls)
      throws IOException {
    return switch (Endpoint.parse(address)) {
      case Endpoint.Tcp tcp -> start(tcp.unresolved(), volumes, tls);
      case Endpoint.Unix unix -> start(unix.path(), volumes);
    };
  }

  /** Binds {@code socket} and serves the control API over {@code volumes}; see {@link UnixSocketServer}. */
  public static GatewayControlServer start(Path socket, VolumeRegistry volumes) throws IOException {
    var server = UnixSocketServer.start(socket, UNIX_OPTIONS, List.of(service(volumes)));
    return new GatewayControlServer(null, server, null, "unix://" + socket);
  }

  private static ServerServiceDefinition service(VolumeRegistry volumes) {
    return ServerInterceptors.intercept(new GatewayControlService(volumes), new ControlAccess(volumes.catalog()));
  }

  /** Binds TCP {@code address} (resolved here; port 0 picks a free port) and serves the control API. */
  public static GatewayControlServer start(InetSocketAddress address, VolumeRegistry volumes)
      throws IOException {
    return start(address, volumes, null);
  }

  /**
   * Binds TCP {@code address} and serves the control API; with {@code tls} (a certificate and a client CA) only to
   * clients with a certificate from that CA.
   */
  public static GatewayControlServer start(InetSocketAddress address, VolumeRegistry volumes,
      @Nullable TlsFiles tls) throws IOException {
    InetSocketAddress bind = address.isUnresolved()
        ? new InetSocketAddress(address.getHostString(), address.getPort()) : address;
    if (bind.isUnresolved()) {
      throw new IOException("cannot resolve control host '" + address.getHostString()
          + "'; use an IP address such as 0.0.0.0 in tcp://HOST:PORT");
    }
    ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("control-", 0).factory());
    try {
      var builder = tls == null ? NettyServerBuilder.forAddress(bind)
          : NettyServerBuilder.forAddress(bind, credentials(tls));
      Server server = builder.executor(executor).addService(service(volumes)).build().start();
      var bound = (InetSocketAddress) server.getListenSockets().getFirst();
      String uri = Endpoint.of(bound).toString();
      log.info("gateway control API listening on {}{}", uri, tls == null ? " (no TLS)" : " (mutual TLS)");
      return new GatewayControlServer(server, null, executor, uri);
    } catch (IOException | RuntimeException e) {
      executor.shutdownNow();
      throw new IOException("cannot listen on " + Endpoint.of(bind) + ": " + e.getMessage()
          + "; pick another host or port", e);
    }
  }

  /** Mutual TLS from {@code tls}: its certificate, and a client certificate from its CA required. */
  static ServerCredentials credentials(TlsFiles tls) {
    if (!tls.hasCertificate() || !tls.verifiesPeers()) {
      throw new IllegalArgumentException("the control API's TLS needs a certificate, its key and a client CA");
    }
    return TlsServerCredentials.newBuilder()
        .keyManager(tls.keyManager().orElseThrow())
        .trustManager(tls.trustManager().orElseThrow())
        .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE)
        .build();
  }

  /** The Unix socket path, or null when serving on TCP. */
  public @Nullable Path socket() {
    return unix == null ? null : unix.socket();
  }

  /** Where the server listens, as {@code unix:///path} or {@code tcp://HOST:PORT} with the bound port. */
  public String address() {
    return address;
  }

  @Override
  public void close() {
    if (unix != null) {
      unix.close();
      return;
    }
    if (tcp == null || tcpExecutor == null) {
      return;
    }
    tcp.shutdown();
    try {
      if (!tcp.awaitTermination(10, TimeUnit.SECONDS)) {
        tcp.shutdownNow();
      }
    } catch (InterruptedException e) {
      tcp.shutdownNow();
      Thread.currentThread().interrupt();
    }
    tcpExecutor.shutdown();
  }
}
