package io.bucketdisk.store.object;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.testing.S3Server;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;

/**
 * The start-up probe against both real servers: it must find exactly what each server does (s3proxy: aws-chunked
 * uploads and quoted If-Match work, conditional writes are not atomic; Ceph RGW 16: aws-chunked uploads refused with
 * XAmzContentSHA256Mismatch, If-Match compared unquoted, conditional writes atomic), switch to the working form,
 * print one line, and refuse to open, with a one-line fix, where fencing is missing and not accepted. Each test uses
 * a fresh bucket, since probe results are remembered per bucket.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class S3ProbeIT {

  /** The server's store URL for {@code bucket}, without the fixture's own accept-unfenced, plus {@code extra}. */
  static URI url(S3Server server, String bucket, String extra) {
    return URI.create(server.storeUrlVia(server.endpoint(), bucket, "p/").toString()
        .replace("&accept-unfenced=true", "") + extra);
  }

  @ParameterizedTest(name = "{0}", autoCloseArguments = false)
  @MethodSource("io.bucketdisk.store.testing.S3Server#all")
  void probeFindsWhatTheServerDoesAndPrintsOneLine(S3Server server) throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(S3ObjectStore.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    String bucket = server.newBucket();
    try (var store = (S3ObjectStore) ObjectStores.open(url(server, bucket, "&accept-unfenced=true"),
        StoreMetrics.NONE)) {
      S3Compatibility c = store.compatibility();
      assertThat(c.streamingRejection() != null).as("aws-chunked uploads refused").isEqualTo(
          server.refusesStreamingUploads());
      assertThat(c.streaming()).isEqualTo(!server.refusesStreamingUploads());
      if (server.refusesStreamingUploads()) {
        assertThat(c.streamingRejection()).isEqualTo("XAmzContentSHA256Mismatch");
      }
      assertThat(c.checksumRejection()).isNull();
      assertThat(c.requestChecksums()).isTrue();
      assertThat(c.ifMatchUnquoted()).isEqualTo(server.comparesUnquotedEtags());
      assertThat(c.createOnly()).isTrue();
      assertThat(c.ifMatch()).isTrue();
      assertThat(c.fencing()).isEqualTo(server.atomicConditionalWrites());
      if (server.atomicConditionalWrites()) {
        assertThat(c.raceWinners()).isEqualTo(1);
      } else {
        assertThat(c.raceWinners()).isGreaterThan(1);
      }
      assertThat(c.rangedGet()).isTrue();
      assertThat(c.listPaging()).isTrue();
      assertThat(c.batchDeleteRejection()).isNull();
      // the forms it chose work: a manifest-style update cycle
      String e1 = store.put("m", ByteBuffer.wrap(new byte[] {1}), WriteCondition.ifNoneMatch());
      String e2 = store.put("m", ByteBuffer.wrap(new byte[] {2}), WriteCondition.ifMatch(e1));
      assertThatThrownBy(() -> store.put("m", ByteBuffer.wrap(new byte[] {3}), WriteCondition.ifMatch(e1)))
          .isInstanceOfSatisfying(ObjectStoreException.class, e -> assertThat(e.isPrecondition()).isTrue());
      assertThat(store.get("m").orElseThrow().etag()).isEqualTo(e2);
      assertThat(store.list(".bucketdisk-probe/", null, 10).objects()).as("probe keys cleaned up").isEmpty();
    } finally {
      logger.detachAppender(lines);
    }
    var startLines = lines.list.stream().map(ILoggingEvent::getFormattedMessage)
        .filter(m -> m.contains(bucket)).toList();
    assertThat(startLines).hasSize(1);
    String line = startLines.getFirst();
    assertThat(line).doesNotContain("\n").doesNotContain("secret");
    if (server.refusesStreamingUploads()) {
      assertThat(line).contains("aws-chunked uploads refused (XAmzContentSHA256Mismatch) -> plain uploads");
    }
    if (server.comparesUnquotedEtags()) {
      assertThat(line).contains("ETags sent unquoted");
    }
    if (!server.atomicConditionalWrites()) {
      assertThat(line).contains("not atomic").contains("accepted by accept-unfenced=true");
    } else {
      assertThat(line).doesNotContain("atomic (");
    }
  }

  @ParameterizedTest(name = "{0}", autoCloseArguments = false)
  @MethodSource("io.bucketdisk.store.testing.S3Server#all")
  void refusesWithoutFencingUnlessAccepted(S3Server server) throws Exception {
    URI plain = url(server, server.newBucket(), "");
    if (server.atomicConditionalWrites()) {
      try (ObjectStore s = ObjectStores.open(plain, StoreMetrics.NONE)) {
        assertThat(s.conditionalWritesHonoured()).isTrue();
      }
      return;
    }
    assertThatThrownBy(() -> ObjectStores.open(plain, StoreMetrics.NONE))
        .isInstanceOfSatisfying(ObjectStoreException.class, e -> {
          assertThat(e.isTransient()).isFalse();
          assertThat(e.getMessage()).contains("not atomic").contains("add accept-unfenced=true to the store URL")
              .doesNotContain("\n");
        });
  }

  @ParameterizedTest(name = "{0}", autoCloseArguments = false)
  @MethodSource("io.bucketdisk.store.testing.S3Server#all")
  void whenRequiredChecksumsWorkEverywhere(S3Server server) throws Exception {
    try (var s = (S3ObjectStore) ObjectStores.open(url(server, server.newBucket(),
        "&accept-unfenced=true&checksum=when-required"), StoreMetrics.NONE)) {
      assertThat(s.compatibility().requestChecksums()).isFalse();
      assertThat(s.compatibility().checksumRejection()).isNull();
      assertThat(s.compatibility().streaming()).isEqualTo(!server.refusesStreamingUploads());
      s.put("k", ByteBuffer.wrap(new byte[4096]));
      s.put("tomb", ByteBuffer.allocate(0));
      assertThat(s.get("k").orElseThrow().bytes()).hasSize(4096);
      assertThat(s.get("tomb").orElseThrow().bytes()).isEmpty();
    }
  }
}
