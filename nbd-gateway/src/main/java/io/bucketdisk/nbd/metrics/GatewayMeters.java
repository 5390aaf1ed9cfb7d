package io.bucketdisk.nbd.metrics;

import io.bucketdisk.metrics.HealthCheck;
import io.bucketdisk.engine.cache.ChunkCache;
import io.bucketdisk.engine.cache.DiskTier;
import io.bucketdisk.nbd.export.ExportProvider;
import io.bucketdisk.nbd.server.NbdListener;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * Gateway-wide meters and the gateway's health. Stateless entry points; the meters read the live objects at scrape
 * time and hold them weakly, like every Micrometer function meter.
 */
public final class GatewayMeters {

  private GatewayMeters() {}

  /** Connections, leased request buffers and internal errors of {@code listener}. */
  public static void bind(NbdListener listener, MeterRegistry registry) {
    Gauge.builder("bucketdisk.gateway.connections", listener, NbdListener::connectionCount)
        .description("NBD connections open (all exports, including ones still in the handshake)").register(registry);
    Gauge.builder("bucketdisk.gateway.buffers.leased", listener, NbdListener::leasedBuffers)
        .description("request payload buffers leased now").register(registry);
    FunctionCounter.builder("bucketdisk.gateway.internal.errors", listener, l -> NbdListener.internalErrors())
        .description("runtime exceptions caught while serving NBD (server bugs); should stay 0").register(registry);
    Gauge.builder("bucketdisk.gateway.stopping", listener, l -> l.stopping() ? 1 : 0)
        .description("1 while the gateway is a lame duck (shutting down)").register(registry);
  }

  /** The shared chunk cache: clean, resident and dirty bytes against the dirty limit, writer waits. */
  public static void bind(ChunkCache cache, MeterRegistry registry) {
    Gauge.builder("bucketdisk.cache.clean", cache, ChunkCache::cleanBytes).baseUnit("bytes")
        .description("clean chunk bytes held by the cache").register(registry);
    Gauge.builder("bucketdisk.cache.resident", cache, ChunkCache::residentBytes).baseUnit("bytes")
        .description("everything the cache holds: clean, dirty, scratch and loads in flight").register(registry);
    Gauge.builder("bucketdisk.cache.dirty", cache, c -> c.limiter().used()).baseUnit("bytes")
        .description("dirty bytes of all volumes (bounded by the dirty limit)").register(registry);
    Gauge.builder("bucketdisk.cache.dirty.limit", cache, c -> c.limiter().limit()).baseUnit("bytes")
        .description("dirty bytes allowed before writers wait").register(registry);
    FunctionCounter.builder("bucketdisk.cache.dirty.waits", cache, c -> c.limiter().waits())
        .description("writes that waited for dirty budget (backpressure)").register(registry);
    cache.disk().ifPresent(disk -> bind(disk, registry));
  }

  /** The cache's disk tier: its bound and use, hits and misses, what it wrote, pushed out, dropped or refused. */
  private static void bind(DiskTier disk, MeterRegistry registry) {
    Gauge.builder("bucketdisk.cache.disk.capacity", disk, DiskTier::capacityBytes).baseUnit("bytes")
        .description("size of the disk tier's file (--disk-cache-size)").register(registry);
    Gauge.builder("bucketdisk.cache.disk.used", disk, DiskTier::usedBytes).baseUnit("bytes")
        .description("bytes of clean data the disk tier holds").register(registry);
    counter(registry, disk, "hits", DiskTier::hits, false,
        "64 KiB granules read from the disk tier instead of the store");
    counter(registry, disk, "misses", DiskTier::misses, false,
        "disk tier lookups that found nothing usable (then the store is read)");
    counter(registry, disk, "written", DiskTier::bytesWritten, true, "bytes written to the disk tier");
    counter(registry, disk, "read", DiskTier::bytesRead, true, "bytes served from the disk tier");
    counter(registry, disk, "evictions", DiskTier::evictions, false,
        "disk tier entries pushed out, least recently used first");
    counter(registry, disk, "dropped", DiskTier::dropped, false,
        "evicted chunks and granules not written because the write queue was full");
    counter(registry, disk, "stale", DiskTier::stale, false,
        "disk writes not published because their chunk changed meanwhile");
    counter(registry, disk, "checksum.failures", DiskTier::checksumFailures, false,
        "disk tier reads that failed their CRC32C (read from the store instead); should stay 0");
    counter(registry, disk, "write.errors", DiskTier::writeErrors, false,
        "disk tier writes that failed (the data is not kept)");
  }

  private static void counter(MeterRegistry registry, DiskTier disk, String name,
      java.util.function.ToDoubleFunction<DiskTier> value, boolean bytes, String description) {
    var b = FunctionCounter.builder("bucketdisk.cache.disk." + name, disk, value).description(description);
    (bytes ? b.baseUnit("bytes") : b).register(registry);
  }

  /**
   * Healthy while {@code listener} is serving (not a lame duck) and {@code provider} can list its exports, which for
   * a store-backed provider is a request to the bucket.
   */
  public static HealthCheck health(NbdListener listener, ExportProvider provider) {
    return () -> {
      if (listener.stopping()) {
        throw new IllegalStateException("gateway is shutting down");
      }
      try {
        provider.list();
      } catch (Exception e) {
        throw new IllegalStateException("cannot list volumes (store unreachable?): " + e.getMessage(), e);
      }
    };
  }
}
