package io.bucketdisk.rpc;

import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
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
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A gRPC server on a Unix domain socket: grpc-netty-shaded over epoll, each call on its own virtual thread.
 *
 * <p><b>Addresses.</b> {@code io.bucketdisk.common.net.Endpoint#parseUnix} accepts {@code unix:///abs/path}, {@code unix:/abs/path} or a bare absolute
 * path, the forms CSI's {@code CSI_ENDPOINT} uses, and refuses anything else with a message naming the flag.
 *
 * <p><b>Takeover guard.</b> Netty unlinks whatever is at the path before binding, so a second server would silently
 * steal a live socket from the first. {@link #start} (and {@link #checkFree}) connects to an existing socket first and refuses to start when
 * something answers; a stale socket (nobody listening) is replaced, a path that is not a socket is refused, and a
 * path longer than the kernel's {@code sun_path} is refused before binding. Every refusal is an {@link IOException}
 * whose one-line message names the flag to change.
 *
 * <p>{@link #close} stops accepting calls, lets running calls finish for the grace period given to {@link #start},
 * then cancels the rest and removes the socket file. Thread safe.
 */
public final class UnixSocketServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(UnixSocketServer.class);
  /** sun_path holds 108 bytes including the terminating NUL. */
  static final int MAX_SUN_PATH = 107;

  private final Server server;
  private final EventLoopGroup group;
  private final ExecutorService executor;
  private final Path socket;
  private final String role;
  private final Duration grace;

  private UnixSocketServer(Server server, EventLoopGroup group, ExecutorService executor, Path socket, String role,
      Duration grace) {
    this.server = server;
    this.group = group;
    this.executor = executor;
    this.socket = socket;
    this.role = role;
    this.grace = grace;
  }

  /**
   * What to serve and how: {@code role} names the server in logs and errors ("CSI endpoint"), {@code flag} the
   * option that chose the path, {@code eventLoopThreads} the epoll threads, {@code grace} how long {@link #close}
   * waits for running calls.
   */
  public record Options(String role, String flag, int eventLoopThreads, Duration grace) {
    public Options {
      if (eventLoopThreads < 1) {
        throw new IllegalArgumentException("eventLoopThreads must be at least 1");
      }
    }
  }

  /** Binds {@code socket} (creating its directory) and serves {@code services}. */
  public static UnixSocketServer start(Path socket, Options options, List<ServerServiceDefinition> services)
      throws IOException {
    if (socket.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SUN_PATH) {
      throw new IOException(options.role() + " socket path " + socket + " is longer than " + MAX_SUN_PATH
          + " bytes (the Unix socket limit); choose a shorter " + options.flag());
    }
    checkFree(socket, options);
    Path parent = socket.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(options.eventLoopThreads(), EpollIoHandler.newFactory());
    String threadPrefix = options.role().toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9]+", "-") + "-";
    ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name(threadPrefix, 0).factory());
    var builder = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollServerDomainSocketChannel.class)
        .bossEventLoopGroup(group)
        .workerEventLoopGroup(group)
        .executor(executor);
    services.forEach(builder::addService);
    try {
      Server server = builder.build().start();
      log.info("{} listening on unix://{}", options.role(), socket);
      return new UnixSocketServer(server, group, executor, socket, options.role(), options.grace());
    } catch (IOException | RuntimeException e) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      executor.shutdownNow();
      throw new IOException("cannot listen on " + socket + ": " + e.getMessage() + "; check " + options.flag(), e);
    }
  }

  /**
   * Fails unless {@link #start} could bind {@code socket} without taking it over from a live server; for callers that
   * must not do other work (reattaching devices) while another instance is running. {@link #start} checks again.
   */
  public static void checkFree(Path socket, Options options) throws IOException {
    if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (Files.isRegularFile(socket, LinkOption.NOFOLLOW_LINKS) || Files.isDirectory(socket, LinkOption.NOFOLLOW_LINKS)) {
      throw new IOException(socket + " exists and is not a socket; remove it or choose another " + options.flag());
    }
    try (var ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      throw new IOException("another server is already listening on " + socket + "; stop it first or choose another "
          + options.flag());
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

  @Override
  public void close() {
    server.shutdown();
    try {
      if (!server.awaitTermination(grace.toMillis(), TimeUnit.MILLISECONDS)) {
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
    log.info("{} on unix://{} closed", role, socket);
  }
}
