package io.bucketdisk.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class MetricsEndpointTest {

  @Test
  void servesPrometheusText() throws Exception {
    try (var m = MetricsEndpoint.start("127.0.0.1:0")) {
      m.registry().timer("csi.requests", "method", "Probe", "code", "OK").record(5, TimeUnit.MILLISECONDS);
      var body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + m.port()
          + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
      assertThat(body).contains("csi_requests_seconds_count{code=\"OK\",method=\"Probe\"} 1")
          .contains("jvm_memory_used_bytes");
    }
  }

  @Test
  void badAddressesNameTheForm() {
    assertThatThrownBy(() -> MetricsEndpoint.start("9811")).hasMessageContaining("HOST:PORT");
    assertThatThrownBy(() -> MetricsEndpoint.start("host:port")).hasMessageContaining("valid port");
  }
}
