package io.bucketdisk.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.protobuf.services.HealthStatusManager;
import io.micrometer.core.instrument.Timer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The interceptor on a real gRPC server over a Unix socket, driven by a real client; grpc-services' Health as the service. */
@Timeout(60)
class GrpcServerMetricsTest {

  @Test
  void timesEveryCallByMethodAndCode() throws Exception {
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "gsm");
    Path socket = dir.resolve("s.sock");
    var registry = MetricsServer.newRegistry();
    var health = new HealthStatusManager();
    health.setStatus("ok-service", HealthCheckResponse.ServingStatus.SERVING);
    var group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    Server server = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollServerDomainSocketChannel.class).bossEventLoopGroup(group).workerEventLoopGroup(group)
        .addService(ServerInterceptors.intercept(health.getHealthService(), new GrpcServerMetrics(registry)))
        .build().start();
    ManagedChannel channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
    try {
      var stub = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
      for (int i = 0; i < 3; i++) {
        assertThat(stub.check(HealthCheckRequest.newBuilder().setService("ok-service").build()).getStatus())
            .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
      }
      assertThatThrownBy(() -> stub.check(HealthCheckRequest.newBuilder().setService("nope").build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));

      Timer ok = registry.find(GrpcServerMetrics.REQUESTS)
          .tags("service", "grpc.health.v1.Health", "method", "Check", "code", "OK").timer();
      Timer notFound = registry.find(GrpcServerMetrics.REQUESTS).tags("method", "Check", "code", "NOT_FOUND").timer();
      assertThat(ok).isNotNull();
      assertThat(ok.count()).isEqualTo(3);
      assertThat(ok.totalTime(TimeUnit.NANOSECONDS)).isPositive();
      assertThat(notFound).isNotNull();
      assertThat(notFound.count()).isEqualTo(1);
      assertThat(registry.scrape()).contains(
          "bucketdisk_grpc_server_requests_seconds_count{code=\"OK\",method=\"Check\",service=\"grpc.health.v1.Health\"} 3")
          .contains("bucketdisk_grpc_server_requests_seconds_bucket{code=\"OK\",method=\"Check\",service=\"grpc.health.v1.Health\",le=\"30.0\"} 3");
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      Files.deleteIfExists(socket);
      Files.deleteIfExists(dir);
    }
  }
}
