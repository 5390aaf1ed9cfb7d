package io.bucketdisk.nbd.metrics;

import io.bucketdisk.metrics.LatencyHistogram;
import io.bucketdisk.store.StoreException;
import io.bucketdisk.store.StoreMetrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The object store's {@link StoreMetrics} listener as Micrometer meters, for the whole process (all volumes share
 * one bucket connection): {@code bucketdisk.store.requests} (timer by {@code op}: every attempt, retried or not),
 * {@code bucketdisk.store.retries} by {@code op}, {@code bucketdisk.store.failures} by {@code op} and {@code kind}
 * (calls that failed for good), and {@code bucketdisk.store.payload} bytes by {@code direction}. Pass it to {@code
 * ObjectStores.open}. Thread safe; timers and counters are resolved up front except the rare failure counters.
 */
public final class StoreMeters implements StoreMetrics {

  private final MeterRegistry registry;
  private final Map<Op, Timer> requests = new EnumMap<>(Op.class);
  private final Map<Op, Counter> retries = new EnumMap<>(Op.class);
  private final Counter up;
  private final Counter down;

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
}
