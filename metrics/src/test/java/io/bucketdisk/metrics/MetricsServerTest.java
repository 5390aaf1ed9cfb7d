package io.bucketdisk.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class MetricsServerTest {

  static HttpResponse<String> get(int port, String path) throws Exception {
    try (var client = HttpClient.newHttpClient()) {
      return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }
  }

  @Test
  void servesPrometheusTextWithJvmMetersAndCustomOnes() throws Exception {
    var registry = MetricsServer.newRegistry();
    registry.counter("bucketdisk.test.things").increment(3);
    try (var server = MetricsServer.start("127.0.0.1:0", registry, HealthCheck.ALWAYS)) {
      var r = get(server.port(), "/metrics");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
      assertThat(r.body()).contains("bucketdisk_test_things_total 3.0").contains("jvm_memory_used_bytes")
          .contains("process_uptime_seconds");
    }
  }

  @Test
  void healthzFollowsTheCheckAndNamesTheReason() throws Exception {
    var failure = new AtomicReference<String>();
    HealthCheck check = () -> {
      String f = failure.get();
      if (f != null) {
        throw new IOException(f);
      }
    };
    try (var server = MetricsServer.start("127.0.0.1:0", MetricsServer.newRegistry(), check)) {
      assertThat(get(server.port(), "/healthz").statusCode()).isEqualTo(200);
      failure.set("store s3://b/p is not reachable");
      var r = get(server.port(), "/healthz");
      assertThat(r.statusCode()).isEqualTo(503);
      assertThat(r.body()).contains("store s3://b/p is not reachable");
      failure.set(null);
      assertThat(get(server.port(), "/healthz").body()).isEqualTo("ok\n");
    }
  }

  @Test
  void aHangingCheckIsUnhealthyAfterTheTimeout() throws Exception {
    HealthCheck hangs = () -> Thread.sleep(60_000);
    try (var server = MetricsServer.start("127.0.0.1:0", MetricsServer.newRegistry(), hangs, Duration.ofMillis(300))) {
      long t0 = System.nanoTime();
      var r = get(server.port(), "/healthz");
      assertThat(r.statusCode()).isEqualTo(503);
      assertThat(r.body()).contains("did not answer within 300 ms");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
    }
  }

  @Test
  void badAddressesGetAMessageNamingTheForm() throws Exception {
    assertThatThrownBy(() -> MetricsServer.parse("9810")).hasMessageContaining("HOST:PORT");
    assertThatThrownBy(() -> MetricsServer.parse("0.0.0.0:http")).hasMessageContaining("port must be a number from 0 to 65535");
    assertThatThrownBy(() -> MetricsServer.parse("0.0.0.0:70000")).hasMessageContaining("port must be a number from 0 to 65535");
    assertThat(MetricsServer.parse(":9810").getPort()).isEqualTo(9810);
    assertThat(MetricsServer.parse("[::1]:9810").getAddress().getHostAddress()).isEqualTo("0:0:0:0:0:0:0:1");
    try (var taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      assertThatThrownBy(() -> MetricsServer.start("127.0.0.1:" + taken.getLocalPort(), MetricsServer.newRegistry(),
          HealthCheck.ALWAYS)).isInstanceOf(IOException.class);
    }
  }
}
