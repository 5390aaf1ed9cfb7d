package io.bucketdisk.metrics;

import io.micrometer.core.instrument.Timer;
import java.time.Duration;

/**
 * The one set of latency buckets every bucketdisk timer publishes, from 50 µs (a cache hit on loopback) to 30 s (a
 * FLUSH waiting on a slow bucket): fixed explicit buckets rather than Micrometer's percentile histogram, so each
 * timer is 20 series, not 70.
 */
public final class LatencyHistogram {

  private static final Duration[] BUCKETS = {
    Duration.ofNanos(50_000), Duration.ofNanos(100_000), Duration.ofNanos(250_000), Duration.ofNanos(500_000),
    Duration.ofMillis(1), Duration.ofNanos(2_500_000), Duration.ofMillis(5), Duration.ofMillis(10),
    Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
    Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
    Duration.ofSeconds(10), Duration.ofSeconds(30),
  };

  private LatencyHistogram() {}

  /** A timer builder for {@code name} with the shared buckets. */
  public static Timer.Builder timer(String name) {
    return Timer.builder(name).serviceLevelObjectives(BUCKETS).maximumExpectedValue(Duration.ofSeconds(30));
  }
}
