package io.bucketdisk.store.outage;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** A store that fails thousands of times in minutes gives a handful of lines, with counts and the time since. */
class OutageTest {
  final Logger logger = (Logger) LoggerFactory.getLogger("outage-test");
  final ListAppender<ILoggingEvent> lines = new ListAppender<>();
  final AtomicLong nanos = new AtomicLong();
  final Instant t0 = Instant.parse("2026-12-05T02:50:01Z");
  final Outage outage = new Outage(logger, "store s3://b/p at http://h:1", Duration.ofSeconds(5), nanos::get,
      () -> t0.plusNanos(nanos.get()));

  @BeforeEach
  void attach() {
    lines.start();
    logger.setLevel(Level.INFO);
    logger.addAppender(lines);
  }

  @AfterEach
  void detach() {
    logger.detachAppender(lines);
  }

  List<String> messages() {
    return lines.list.stream().map(e -> e.getLevel() + " " + e.getFormattedMessage()).toList();
  }

  @Test
  void aStallOfThreeAndAHalfMinutesGivesAFewLines() {
    // 5,500 failed uploads and lease renewals spread over 210 s (what issue 13 saw), then a success
    for (int i = 0; i < 5500; i++) {
      nanos.set(i * 210_000_000_000L / 5500);
      outage.failed(i % 10 == 0 ? "PUT HTTP 503 SlowDown" : "PUT no answer", "PUT k" + i + ": boom " + i);
    }
    assertThat(outage.since()).contains(t0);
    assertThat(outage.failures()).isEqualTo(5500);
    nanos.set(211_000_000_000L);
    outage.succeeded();
    List<String> m = messages();
    // per kind: the first at once, then about one every 5 s over 210 s; plus one line when it works again
    assertThat(m).hasSizeBetween(2 * 40 + 1, 2 * 43 + 1);
    assertThat(m.getFirst()).isEqualTo("WARN store s3://b/p at http://h:1: PUT k0: boom 0");
    assertThat(m.get(2)).startsWith("WARN store s3://b/p at http://h:1: PUT no answer failed ")
        .contains("more times in 5.0 s (failing since 2026-12-05T02:50:01Z, 5.0 s ago); last: PUT k");
    assertThat(m.getLast()).isEqualTo("INFO store s3://b/p at http://h:1: works again after 211.0 s (5500 failures "
        + "since 2026-12-05T02:50:01Z)");
    assertThat(outage.since()).isEmpty();
    assertThat(outage.failures()).isZero();
  }

  @Test
  void successesWithoutAnOutageLogNothing() {
    outage.succeeded();
    outage.succeeded();
    assertThat(messages()).isEmpty();
    assertThat(outage.since()).isEmpty();
  }

  @Test
  void aNewOutageStartsAfresh() {
    outage.failed("GET no answer", "first");
    nanos.set(1_000_000_000L);
    outage.succeeded();
    nanos.set(2_000_000_000L);
    outage.failed("GET no answer", "second");
    assertThat(messages()).containsExactly("WARN store s3://b/p at http://h:1: first",
        "INFO store s3://b/p at http://h:1: works again after 1.0 s (1 failure since 2026-12-05T02:50:01Z)",
        "WARN store s3://b/p at http://h:1: second");
    assertThat(outage.since()).contains(t0.plusSeconds(2));
    assertThat(lines.list).allMatch(e -> e.getLevel() == Level.WARN || e.getLevel() == Level.INFO);
  }
}
