package io.bucketdisk.nbd.metrics;

import io.bucketdisk.testing.Tool;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.metrics.MetricsServer;
import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.engine.volume.CatalogVolumeSource;
import io.bucketdisk.engine.cache.ChunkCache;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.nbd.server.NbdListener;
import io.bucketdisk.nbd.server.ServerOptions;
import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.VolumeSpec;
import io.bucketdisk.store.testing.FaultyS3Proxy;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.TimeUnit;
import java.util.function.DoublePredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The whole gateway stack in-process (s3proxy store with {@link StoreMeters}, catalog volume source, write-back
 * cache, real {@link NbdListener} wrapped in {@link MeteredExportProvider}, {@link MetricsServer} on 127.0.0.1:0),
 * driven by a real qemu-io process over TCP and scraped over HTTP like Prometheus would.
 */
@Timeout(120)
class GatewayMetricsIT {
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();
  static final int CHUNK = 1 << 20;
  static int prefixes;

  FaultyS3Proxy faults;
  VolumeCatalog catalog;
  VolumeExportProvider volumes;
  NbdListener listener;
  MetricsServer metrics;
  InetSocketAddress nbd;
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() throws Exception {
    Tool.require("qemu-io");
    var registry = MetricsServer.newRegistry();
    faults = FaultyS3Proxy.start(S3.endpoint());
    catalog = VolumeCatalog.open(S3ProxyFixture.storeUrl(faults.endpoint(), S3.bucket(), "gm" + (++prefixes) + "/"),
        CatalogOptions.defaults().withMetrics(new StoreMeters(registry)));
    catalog.create(new VolumeSpec("vol1", 16L * CHUNK, CHUNK, Map.of()));
    // maxDirtyAge 60 s: nothing is uploaded behind the test's back, so dirty bytes stay until the FLUSH.
    var cache = new ChunkCache(new CacheConfig(24L * CHUNK, 8L * CHUNK, CHUNK, 4, 4, 0, Duration.ofSeconds(60),
        Duration.ofSeconds(30), Duration.ofSeconds(30)));
    volumes = new VolumeExportProvider(new CatalogVolumeSource(catalog, new LeaseOwner("gw-metrics-it", "unix:///tmp/x")),
        cache, null);
    listener = new NbdListener(new MeteredExportProvider(volumes, registry), ServerOptions.defaults());
    nbd = (InetSocketAddress) listener.listen(new InetSocketAddress("127.0.0.1", 0));
    GatewayMeters.bind(listener, registry);
    GatewayMeters.bind(cache, registry);
    metrics = MetricsServer.start("127.0.0.1:0", registry, GatewayMeters.health(listener, volumes));
  }

  @AfterEach
  void stop() throws Exception {
    if (listener != null) {
      listener.stop();
    }
    if (volumes != null) {
      volumes.close();
    }
    if (metrics != null) {
      metrics.close();
    }
    if (catalog != null) {
      catalog.close();
    }
    if (faults != null) {
      faults.close();
    }
    http.close();
  }

  HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metrics.port() + path))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  String scrape() throws Exception {
    var r = get("/metrics");
    assertThat(r.statusCode()).isEqualTo(200);
    return r.body();
  }

  /** The value of the sample {@code name{labels...}} (labels given as a regex fragment), if present. */
  static OptionalDouble sample(String text, String name, String labels) {
    String braces = labels.isEmpty() ? "(?:\\{[^}]*})?" : "\\{" + labels + "[^}]*}";
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + braces + " ([-+0-9.eE]+|NaN)$").matcher(text);
    return m.find() ? OptionalDouble.of(Double.parseDouble(m.group(1))) : OptionalDouble.empty();
  }

  static double value(String text, String name, String labels) {
    OptionalDouble v = sample(text, name, labels);
    assertThat(v).as(name + "{" + labels + "} in the scrape").isPresent();
    return v.getAsDouble();
  }

  /** Scrapes until {@code name{labels}} satisfies {@code p} (bounded: 20 s), returning that scrape. */
  Path qemuLog;

  /**
   * Sends one command to the interactive qemu-io and waits for its next prompt (qemu-io reads one line per wake-up,
   * so commands go one at a time).
   */
  void command(BufferedWriter in, String line) throws Exception {
    int before = prompts();
    in.write(line + "\n");
    in.flush();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (prompts() <= before) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("qemu-io did not finish '" + line + "': " + Files.readString(qemuLog));
      }
      Thread.sleep(20);
    }
  }

  String qemuLogText() {
    try {
      return Files.readString(qemuLog);
    } catch (java.io.IOException e) {
      return e.toString();
    }
  }

  int prompts() throws Exception {
    String log = Files.readString(qemuLog);
    return (log.length() - log.replace("qemu-io> ", "").length()) / "qemu-io> ".length();
  }

  String awaitSample(String name, String labels, DoublePredicate p) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    String text = scrape();
    while (System.nanoTime() < deadline) {
      OptionalDouble v = sample(text, name, labels);
      if (v.isPresent() && p.test(v.getAsDouble())) {
        return text;
      }
      Thread.sleep(50);
      text = scrape();
    }
    throw new AssertionError(name + "{" + labels + "} never reached the expected value; last scrape:\n"
        + text.lines().filter(l -> l.startsWith(name)).toList() + "\nqemu-io: " + Files.readString(qemuLog));
  }

  @Test
  void countersFollowAQemuIoSessionThroughWriteFlushReadAndDisconnect() throws Exception {
    String vol = "volume=\"vol1\"";
    qemuLog = Files.createTempFile("qemu-io", ".log");
    String before = scrape();
    assertThat(sample(before, "bucketdisk_volume_connections", vol)).as("no meters before a client").isEmpty();
    assertThat(value(before, "bucketdisk_gateway_volumes_open", "")).isZero();

    Process qemu = new ProcessBuilder("qemu-io", "-f", "raw", "-t", "writeback", "nbd://127.0.0.1:" + nbd.getPort() + "/vol1")
        .redirectErrorStream(true).redirectOutput(qemuLog.toFile()).start();
    try (var in = new BufferedWriter(new OutputStreamWriter(qemu.getOutputStream(), StandardCharsets.UTF_8))) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (prompts() == 0 && qemu.isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(prompts()).as("qemu-io connected and prompts: " + Files.readString(qemuLog)).isPositive();
      // A written chunk is uploaded at once (no FLUSH needed), so hold the chunk PUTs for 4 s in the proxy to see
      // the dirty state: acknowledged to the client, not yet stored.
      faults.delay(Duration.ofSeconds(4));
      faults.failNext(20, FaultyS3Proxy.Fault.DELAY, "PUT");
      command(in, "write -P 0xab 0 512k");
      command(in, "write -P 0xab 1M 512k");
      command(in, "write -P 0xab 2M 512k");

      // Acknowledged but not stored: dirty bytes and a data-loss window, one connection, no PUT yet. A write of 64 KiB
      // or more at a chunk's start looks like a sequential writer's first piece, so each chunk starts whole and holds
      // its whole size (DirtyChunks.streams), not half its 4 KiB pages.
      double held = 3.0 * CHUNK;
      String dirty = awaitSample("bucketdisk_nbd_payload_bytes_total", "direction=\"write\"," + vol,
          v -> v >= 1.5 * CHUNK);
      assertThat(value(dirty, "bucketdisk_volume_dirty_bytes", vol)).as(() -> dirty.lines()
          .filter(l -> l.startsWith("bucketdisk_volume") || l.startsWith("bucketdisk_store_requests_seconds_count")
              || l.startsWith("bucketdisk_nbd_requests_seconds_count")).toList() + " qemu " + qemuLogText())
          .isEqualTo(held);
      assertThat(value(dirty, "bucketdisk_volume_connections", vol)).isEqualTo(1);
      assertThat(value(dirty, "bucketdisk_volume_dirty_chunks", vol)).isEqualTo(3);
      assertThat(value(dirty, "bucketdisk_volume_dirty_oldest_age_seconds", vol)).isPositive();
      assertThat(value(dirty, "bucketdisk_volume_store_requests_total", "type=\"put\"," + vol)).isZero();
      assertThat(value(dirty, "bucketdisk_nbd_payload_bytes_total", "direction=\"write\"," + vol))
          .isEqualTo(1.5 * CHUNK);
      assertThat(value(dirty, "bucketdisk_nbd_requests_seconds_count", "command=\"write\"," + vol)).isEqualTo(3);
      assertThat(value(dirty, "bucketdisk_cache_dirty_bytes", "")).isEqualTo(held);
      assertThat(value(dirty, "bucketdisk_gateway_connections", "")).isEqualTo(1);
      assertThat(value(dirty, "bucketdisk_gateway_volumes_open", "")).isEqualTo(1);
      faults.clear();

      command(in, "flush");
      command(in, "read -P 0xab 2M 512k");
      command(in, "read -P 0 2560k 512k");

      // FLUSH stored the 1.5 MiB written as one log segment: nothing is at risk any more (volume dirty bytes 0), the
      // three chunks stay in memory until they fold.
      String flushed = awaitSample("bucketdisk_nbd_payload_bytes_total", "direction=\"read\"," + vol,
          v -> v >= 1.0 * CHUNK);
      assertThat(value(flushed, "bucketdisk_volume_dirty_bytes", vol)).isZero();
      assertThat(value(flushed, "bucketdisk_volume_dirty_oldest_age_seconds", vol)).isZero();
      assertThat(value(flushed, "bucketdisk_volume_lease_valid_seconds", vol)).as("a live lease").isBetween(1.0, 35.0);
      assertThat(value(flushed, "bucketdisk_volume_store_requests_total", "type=\"put\"," + vol)).isEqualTo(1);
      assertThat(value(flushed, "bucketdisk_volume_store_payload_bytes_total", "direction=\"up\"," + vol))
          .as("the bytes written and the segment's header, directory and trailer").isBetween(1.5 * CHUNK, 1.5 * CHUNK + 1024);
      assertThat(value(flushed, "bucketdisk_volume_flushes_total", vol)).isGreaterThanOrEqualTo(1);
      assertThat(value(flushed, "bucketdisk_nbd_requests_seconds_count", "command=\"flush\"," + vol))
          .isGreaterThanOrEqualTo(1);
      assertThat(value(flushed, "bucketdisk_nbd_requests_seconds_count", "command=\"read\"," + vol))
          .isGreaterThanOrEqualTo(2);
      assertThat(value(flushed, "bucketdisk_volume_cache_lookups_total", "result=\"hit\"," + vol)).isPositive();
      assertThat(value(flushed, "bucketdisk_cache_dirty_bytes", "")).as("logged, not folded yet: still in memory")
          .isEqualTo(held);
      // Object-store level: the PUTs above (plus the catalog's manifest and lease writes), with latency buckets.
      assertThat(value(flushed, "bucketdisk_store_requests_seconds_count", "op=\"put\"")).isGreaterThanOrEqualTo(3);
      assertThat(value(flushed, "bucketdisk_store_requests_seconds_bucket", "op=\"put\",le=\"30.0\""))
          .isEqualTo(value(flushed, "bucketdisk_store_requests_seconds_count", "op=\"put\""));
      assertThat(value(flushed, "bucketdisk_store_payload_bytes_total", "direction=\"up\""))
          .isGreaterThanOrEqualTo(1.5 * CHUNK);
      assertThat(sample(flushed, "bucketdisk_nbd_errors_total", vol)).as("no NBD errors").isEmpty();

      in.write("quit\n");
      in.flush();
    }
    try {
      assertThat(qemu.waitFor(30, TimeUnit.SECONDS)).as("qemu-io exits").isTrue();
    } finally {
      qemu.destroyForcibly();
    }
    assertThat(Files.readString(qemuLog)).as("qemu-io output").doesNotContain("failed").doesNotContain("error")
        .contains("read 524288/524288 bytes at offset 2621440");
    Files.delete(qemuLog);

    // The last handle closed: the volume's meters are gone, the gateway-wide ones remain.
    // (A scrape is not atomic: one that overlaps the close may show both states, so wait for a settled one.)
    awaitSample("bucketdisk_gateway_volumes_open", "", v -> v == 0);
    String after = scrape();
    assertThat(value(after, "bucketdisk_gateway_volumes_open", "")).isZero();
    assertThat(sample(after, "bucketdisk_volume_connections", vol)).isEmpty();
    assertThat(sample(after, "bucketdisk_nbd_requests_seconds_count", "command=\"write\"," + vol)).isEmpty();
    assertThat(value(after, "bucketdisk_gateway_internal_errors_total", ""))
        .as("none in this session (the count is the process's: other tests in this JVM may have added theirs)")
        .isEqualTo(value(before, "bucketdisk_gateway_internal_errors_total", ""));
  }

  @Test
  void healthzIsOkWhileServingAndUnhealthyOnceTheGatewayStops() throws Exception {
    var ok = get("/healthz");
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(ok.body()).isEqualTo("ok\n");
    listener.stop();
    var down = get("/healthz");
    assertThat(down.statusCode()).isEqualTo(503);
    assertThat(down.body()).contains("shutting down");
  }

  @Test
  void healthzIsUnhealthyWhenTheStoreIsUnreachable() throws Exception {
    var proxy = FaultyS3Proxy.start(S3.endpoint());
    var cache = new ChunkCache(CacheConfig.ofSize(256L << 20));
    try (proxy; var through = VolumeCatalog.open(S3ProxyFixture.storeUrl(proxy.endpoint(), S3.bucket(), "gmx/"),
        CatalogOptions.defaults())) {
      var provider = new VolumeExportProvider(
          new CatalogVolumeSource(through, new LeaseOwner("gw-metrics-it", "unix:///tmp/x")), cache, null);
      try (var server = MetricsServer.start("127.0.0.1:0", MetricsServer.newRegistry(),
          GatewayMeters.health(listener, provider), Duration.ofSeconds(2))) {
        var url = URI.create("http://127.0.0.1:" + server.port() + "/healthz");
        var req = HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(30)).build();
        assertThat(http.send(req, HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        proxy.close(); // the bucket's endpoint now refuses connections
        var r = http.send(req, HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).startsWith("unhealthy: ");
      }
    }
  }
}
