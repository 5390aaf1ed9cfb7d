package io.bucketdisk.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class UnixSocketServerTest {
  private static final UnixSocketServer.Options OPTIONS =
      new UnixSocketServer.Options("test endpoint", "--endpoint", 1, Duration.ofSeconds(2));
  private Path dir;

  @BeforeEach
  void createDir() throws IOException {
    dir = Files.createTempDirectory(Path.of("/tmp"), "uds");
  }

  @AfterEach
  void removeDir() throws IOException {
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        Files.deleteIfExists(p);
      }
    }
    Files.deleteIfExists(dir);
  }

  private static UnixSocketServer serveHealth(Path socket) throws IOException {
    var health = new HealthStatusManager();
    return UnixSocketServer.start(socket, OPTIONS, List.of(health.getHealthService().bindService()));
  }

  @Test
  void servesCallsOverTheSocketAndRemovesItOnClose() throws Exception {
    Path socket = dir.resolve("a.sock");
    try (var server = serveHealth(socket)) {
      var group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
      var channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
          .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
      try {
        var reply = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
            .check(HealthCheckRequest.getDefaultInstance());
        assertThat(reply.getStatus()).isEqualTo(ServingStatus.SERVING);
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      }
      assertThat(server.socket()).isEqualTo(socket);
    }
    assertThat(socket).doesNotExist();
  }

  @Test
  void refusesToTakeOverALiveSocket() throws Exception {
    Path socket = dir.resolve("b.sock");
    try (var first = serveHealth(socket)) {
      assertThatThrownBy(() -> serveHealth(socket)).isInstanceOf(IOException.class)
          .hasMessageContaining("another server is already listening on " + socket)
          .hasMessageContaining("--endpoint");
      assertThat(first.socket()).exists();
    }
  }

  @Test
  void replacesAStaleSocket() throws Exception {
    Path socket = dir.resolve("c.sock");
    try (var ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.bind(UnixDomainSocketAddress.of(socket));
    } // closed: the file stays, nobody listens
    assertThat(socket).exists();
    try (var server = serveHealth(socket)) {
      assertThat(server.socket()).exists();
    }
  }

  @Test
  void refusesAPathThatIsNotASocketAndLeavesItAlone() throws Exception {
    Path file = Files.writeString(dir.resolve("d.sock"), "precious");
    assertThatThrownBy(() -> serveHealth(file)).isInstanceOf(IOException.class)
        .hasMessage(file + " exists and is not a socket; remove it or choose another --endpoint");
    assertThat(file).hasContent("precious");
  }

  @Test
  void refusesAPathLongerThanSunPath() {
    Path socket = dir.resolve("x".repeat(UnixSocketServer.MAX_SUN_PATH));
    assertThatThrownBy(() -> serveHealth(socket)).isInstanceOf(IOException.class)
        .hasMessageContaining("longer than 107 bytes").hasMessageContaining("--endpoint");
  }

}
