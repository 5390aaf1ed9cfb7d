package io.bucketdisk.nbd.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.bucketdisk.metrics.MetricsServer;
import io.bucketdisk.store.object.RetryPolicy;
import io.bucketdisk.store.object.S3ObjectStore;
import io.bucketdisk.store.testing.FaultyS3Proxy;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * A store outage as the operator sees it, over real HTTP: s3proxy behind a fault proxy that answers 500 to every
 * request, the store's {@link StoreMeters} behind {@code /metrics} and {@code /healthz}. During the outage
 * {@code /healthz} is 503 "store unreachable since ...", the outage gauges count, and the log has a line or two,
 * not one per failure; once a call succeeds, all of it clears.
 */
@Timeout(60)
class StoreOutageIT {
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();
  final HttpClient http = HttpClient.newHttpClient();

  @Test
  void healthzAndMetricsSayHowLongTheStoreHasBeenFailing() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(S3ObjectStore.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    var registry = MetricsServer.newRegistry();
    var meters = new StoreMeters(registry);
    try (var faults = FaultyS3Proxy.start(S3.endpoint());
        var store = S3ProxyFixture.objectStore(faults.endpoint(), S3.bucket(), "outage/",
            new RetryPolicy(3, Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofSeconds(5)), meters);
        var server = MetricsServer.start("127.0.0.1:0", registry, meters.health(), Duration.ofSeconds(5))) {
      store.put("k", ByteBuffer.wrap(new byte[] {1}));
      assertThat(get(server, "/healthz").statusCode()).isEqualTo(200);
      assertThat(gauge(server, "bucketdisk_store_outage_seconds")).isZero();
      lines.list.clear();

      faults.failRandomly(FaultyS3Proxy.Fault.INTERNAL_ERROR, 1.0, 1);
      for (int i = 0; i < 40; i++) {
        try {
          store.get("k");
        } catch (java.io.IOException expected) {
          // the outage
        }
      }
      Thread.sleep(1100);
      var health = get(server, "/healthz");
      assertThat(health.statusCode()).isEqualTo(503);
      assertThat(health.body()).startsWith("unhealthy: store unreachable since 20").contains("(40 failed calls, "
          + "store s3://" + S3.bucket() + "/outage/ at " + faults.endpoint() + ")");
      assertThat(gauge(server, "bucketdisk_store_outage_seconds")).isGreaterThanOrEqualTo(1.0);
      assertThat(gauge(server, "bucketdisk_store_outage_failures")).isEqualTo(40);
      assertThat(lines.list).as("log lines for 40 failures").hasSize(1);
      assertThat(lines.list.getFirst().getFormattedMessage()).contains("GET").contains("HTTP 500 InternalError")
          .contains("\"injected by FaultyS3Proxy\"");

      faults.clear();
      assertThat(store.get("k")).isPresent();
      assertThat(get(server, "/healthz").statusCode()).isEqualTo(200);
      assertThat(gauge(server, "bucketdisk_store_outage_seconds")).isZero();
      assertThat(gauge(server, "bucketdisk_store_outage_failures")).isZero();
      assertThat(lines.list).hasSize(2);
      assertThat(lines.list.getLast().getFormattedMessage()).contains("works again after").contains("40 failures");
    } finally {
      logger.detachAppender(lines);
    }
  }

  HttpResponse<String> get(MetricsServer server, String path) throws Exception {
    var req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
        .timeout(Duration.ofSeconds(20)).build();
    return http.send(req, HttpResponse.BodyHandlers.ofString());
  }

  double gauge(MetricsServer server, String name) throws Exception {
    String body = get(server, "/metrics").body();
    Matcher m = Pattern.compile("(?m)^" + name + " (\\S+)$").matcher(body);
    assertThat(m.find()).as("%s in %s", name, body).isTrue();
    return Double.parseDouble(m.group(1));
  }
}
