package io.bucketdisk.controller;

import static io.bucketdisk.controller.CsiClient.GIB;
import static io.bucketdisk.controller.CsiClient.assertCode;
import static io.bucketdisk.controller.CsiClient.createReq;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.controller.metrics.ControllerHealth;
import io.bucketdisk.metrics.MetricsServer;
import io.bucketdisk.proto.csi.DeleteVolumeRequest;
import io.bucketdisk.proto.csi.GetPluginInfoRequest;
import io.bucketdisk.proto.csi.ProbeRequest;
import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.testing.FaultyS3Proxy;
import io.bucketdisk.store.testing.S3ProxyFixture;
import io.grpc.Status;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The controller's RPC metrics and health as Prometheus sees them: the real CSI server on a Unix socket with a
 * registry, a real gRPC client, {@code /metrics} and {@code /healthz} scraped over HTTP.
 */
@Timeout(120)
class ControllerMetricsIT {

  static double sample(String text, String series) {
    var m = Pattern.compile("(?m)^" + Pattern.quote(series) + " ([-+0-9.eE]+)$").matcher(text);
    assertThat(m.find()).as(series + " in the scrape").isTrue();
    return Double.parseDouble(m.group(1));
  }

  @Test
  void rpcsAreCountedByMethodAndCodeAndHealthFollowsTheStore() throws Exception {
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "bdcm");
    var registry = MetricsServer.newRegistry();
    try (var s3 = S3ProxyFixture.start();
        var proxy = FaultyS3Proxy.start(s3.endpoint());
        var catalog = VolumeCatalog.open(S3ProxyFixture.storeUrl(proxy.endpoint(), s3.bucket(), "cm/"),
            CatalogOptions.defaults());
        var plugin = new ControllerPlugin(catalog, NodeDirectory.ANY, null);
        var server = plugin.serve(dir.resolve("csi.sock"), registry);
        var ops = MetricsServer.start("127.0.0.1:0", registry, ControllerHealth.of(catalog));
        var csi = new CsiClient(server.socket());
        var http = HttpClient.newHttpClient()) {
      csi.identity.probe(ProbeRequest.getDefaultInstance());
      csi.identity.getPluginInfo(GetPluginInfoRequest.getDefaultInstance());
      csi.identity.getPluginInfo(GetPluginInfoRequest.getDefaultInstance());
      String id = csi.ctl().createVolume(createReq("pvc-metrics", GIB, 0).build()).getVolume().getVolumeId();
      assertCode(Status.Code.INVALID_ARGUMENT, () -> csi.ctl().createVolume(createReq("", GIB, 0).build()));
      csi.ctl().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build());

      var scrape = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ops.port() + "/metrics"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(scrape.statusCode()).isEqualTo(200);
      String text = scrape.body();
      String rpc = "bucketdisk_grpc_server_requests_seconds_count";
      assertThat(sample(text, rpc + "{code=\"OK\",method=\"GetPluginInfo\",service=\"csi.v1.Identity\"}"))
          .isEqualTo(2);
      assertThat(sample(text, rpc + "{code=\"OK\",method=\"Probe\",service=\"csi.v1.Identity\"}")).isEqualTo(1);
      assertThat(sample(text, rpc + "{code=\"OK\",method=\"CreateVolume\",service=\"csi.v1.Controller\"}"))
          .isEqualTo(1);
      assertThat(sample(text,
          rpc + "{code=\"INVALID_ARGUMENT\",method=\"CreateVolume\",service=\"csi.v1.Controller\"}")).isEqualTo(1);
      assertThat(sample(text, rpc + "{code=\"OK\",method=\"DeleteVolume\",service=\"csi.v1.Controller\"}"))
          .isEqualTo(1);
      assertThat(sample(text, "bucketdisk_grpc_server_requests_seconds_bucket{code=\"OK\",method=\"CreateVolume\","
          + "service=\"csi.v1.Controller\",le=\"30.0\"}")).isEqualTo(1);
      assertThat(text).contains("jvm_memory_used_bytes");

      var healthz = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ops.port() + "/healthz"))
          .timeout(Duration.ofSeconds(30)).build();
      assertThat(http.send(healthz, HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
      // The bucket's endpoint goes away: /healthz says so (within its 5 s bound), and so does Probe.
      proxy.close();
      var down = http.send(healthz, HttpResponse.BodyHandlers.ofString());
      assertThat(down.statusCode()).isEqualTo(503);
      assertThat(down.body()).startsWith("unhealthy: ");
      assertCode(Status.Code.FAILED_PRECONDITION, () -> csi.identity.probe(ProbeRequest.getDefaultInstance()));
    } finally {
      try (var files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
