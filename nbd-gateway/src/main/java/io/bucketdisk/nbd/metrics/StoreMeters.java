package io.bucketdisk.nbd.metrics;

import io.bucketdisk.metrics.HealthCheck;
import io.bucketdisk.metrics.LatencyHistogram;
import io.bucketdisk.store.StoreException;
import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.outage.Outage;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The object store's {@link StoreMetrics} listener as Micrometer meters, for the whole process (all volumes share
 * one bucket connection): {@code bucketdisk.store.requests} (timer by {@code op}: every attempt, retried or not),
 * {@code bucketdisk.store.retries} by {@code op}, {@code bucketdisk.store.failures} by {@code op} and {@code kind}
 * (calls that failed for good), {@code bucketdisk.store.payload} bytes by {@code direction}, {@code
 * bucketdisk.store.checksum.mismatches} (chunk reads refused for a CRC32C mismatch), and the outage gauges
 * {@code bucketdisk.store.outage.seconds} (how long the store has been failing, 0 while it works) and {@code
 * bucketdisk.store.outage.failures} (failed calls in the current outage). Pass it to {@code ObjectStores.open}; {@link
 * #health()} fails with "store unreachable since ..." during an outage. Thread safe; timers and counters are resolved
 * up front except the rare failure counters.
 */
public final class StoreMeters implements StoreMetrics {

  private final MeterRegistry registry;
  private final Map<Op, Timer> requests = new EnumMap<>(Op.class);
  private final Map<Op, Counter> retries = new EnumMap<>(Op.class);
  private final Counter up;
  private final Counter down;
  private final Counter mismatches;
  private final List<Outage> outages = new CopyOnWriteArrayList<>();

  public StoreMeters(MeterRegistry registry) {
    this.registry = registry;
    for (Op op : Op.values()) {
      String tag = op.name().toLowerCase(java.util.Locale.ROOT);
      requests.put(op, LatencyHistogram.timer("bucketdisk.store.requests")
          .description("object store request attempts by operation").tag("op", tag).register(registry));
      retries.put(op, Counter.builder("bucketdisk.store.retries")
          .description("object store attempts that failed and were retried").tag("op", tag).register(registry));
    }
    up = Counter.builder("bucketdisk.store.payload").baseUnit("bytes").description("object bytes moved")
        .tag("direction", "up").register(registry);
    down = Counter.builder("bucketdisk.store.payload").baseUnit("bytes").description("object bytes moved")
        .tag("direction", "down").register(registry);
    mismatches = Counter.builder("bucketdisk.store.checksum.mismatches")
        .description("chunk reads whose bytes did not match their CRC32C (answered with EIO)").register(registry);
    Gauge.builder("bucketdisk.store.outage", this, m -> m.outageSeconds()).baseUnit("seconds")
        .description("how long the store has been failing (calls failing for good, no success since); 0 while it "
            + "works").register(registry);
    Gauge.builder("bucketdisk.store.outage.failures", this,
            m -> m.outages.stream().mapToLong(Outage::failures).sum())
        .description("object store calls that failed for good in the current outage").register(registry);
  }

  @Override
  public void outage(Outage outage) {
    outages.add(outage);
  }

  double outageSeconds() {
    Instant now = Instant.now();
    return outages.stream().flatMap(o -> o.since().stream())
        .mapToDouble(since -> Duration.between(since, now).toMillis() / 1000.0).max().orElse(0);
  }

  /** Healthy unless a store is in an outage: then "store unreachable since ..." with the count and the store. */
  public HealthCheck health() {
    return () -> {
      for (Outage o : outages) {
        var since = o.since();
        if (since.isPresent()) {
          throw new IllegalStateException("store unreachable since " + since.get().truncatedTo(ChronoUnit.SECONDS)
              + " (" + o.failures() + " failed calls, " + o.subject() + ")");
        }
      }
    };
  }

  @Override
  public void request(Op op, long nanos) {
    requests.get(op).record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void retry(Op op) {
    retries.get(op).increment();
  }

  @Override
  public void failure(Op op, StoreException.Kind kind) {
    Counter.builder("bucketdisk.store.failures").description("object store calls that failed for good")
        .tag("op", op.name().toLowerCase(java.util.Locale.ROOT))
        .tag("kind", kind.name().toLowerCase(java.util.Locale.ROOT)).register(registry).increment();
  }

  @Override
  public void bytesUp(long bytes) {
    up.increment(bytes);
  }

  @Override
  public void bytesDown(long bytes) {
    down.increment(bytes);
  }

  @Override
  public void checksumMismatch() {
    mismatches.increment();
  }
}
