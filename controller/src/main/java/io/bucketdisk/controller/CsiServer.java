package io.bucketdisk.controller;

import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.metrics.GrpcServerMetrics;
import io.bucketdisk.rpc.UnixSocketServer;
import io.grpc.BindableService;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The controller's CSI endpoint: a {@link UnixSocketServer} (the only transport CSI allows: spec.md §CSI_ENDPOINT,
 * with its takeover guard) serving Identity and Controller. With a {@link MeterRegistry}, every call is timed by
 * {@link GrpcServerMetrics} as {@code bucketdisk.grpc.server.requests} (tags: service, method, code). {@link #close}
 * lets running calls finish for up to 10 s and removes the socket.
 */
public final class CsiServer implements AutoCloseable {
  private static final UnixSocketServer.Options OPTIONS =
      new UnixSocketServer.Options("CSI endpoint", "--endpoint", 2, Duration.ofSeconds(10));

  private final UnixSocketServer server;

  private CsiServer(UnixSocketServer server) {
    this.server = server;
  }

  /** The socket path of a CSI endpoint; see {@link Endpoint#parseUnix}. */
  public static Path parseEndpoint(String endpoint) {
    return Endpoint.parseUnix(endpoint, "--endpoint").path();
  }

  /** Binds {@code socket} and starts serving {@code services}. */
  public static CsiServer start(Path socket, List<BindableService> services, @Nullable MeterRegistry metrics)
      throws IOException {
    return new CsiServer(UnixSocketServer.start(socket, OPTIONS,
        services.stream().map(s -> GrpcServerMetrics.bind(s, metrics)).toList()));
  }

  public Path socket() {
    return server.socket();
  }

  /** Blocks until the server terminates. */
  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  @Override
  public void close() {
    server.close();
  }
}
