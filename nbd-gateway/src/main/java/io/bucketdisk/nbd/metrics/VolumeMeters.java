package io.bucketdisk.nbd.metrics;

import io.bucketdisk.metrics.LatencyHistogram;
import io.bucketdisk.engine.Volume;
import io.bucketdisk.engine.VolumeCounters;
import io.bucketdisk.nbd.export.ExportException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import org.jspecify.annotations.Nullable;

/**
 * The meters of one open volume (one export name). Created at the first handle, removed from the registry at the
 * last close. NBD meters are owned here; the cache meters read the live {@link Volume} and are rebound when a
 * new cache replaces a closed one under the same name. Thread safe: handle counting happens under the provider's
 * map lock, meters are thread safe themselves.
 */
final class VolumeMeters {

  private final MeterRegistry registry;
  private final String volume;
  private final Tags tags;
  private final Timer[] timers = new Timer[Command.values().length];
  private final Counter readBytes;
  private final Counter writeBytes;
  private final List<Meter> owned = new ArrayList<>();
  private final List<Meter> cacheMeters = new ArrayList<>();
  private @Nullable Volume cache;
  int handles;

  VolumeMeters(MeterRegistry registry, String volume) {
    this.registry = registry;
    this.volume = volume;
    this.tags = Tags.of("volume", volume);
    for (Command c : Command.values()) {
      timers[c.ordinal()] = own(LatencyHistogram.timer("bucketdisk.nbd.requests")
          .description("NBD requests served, by command (latency at the export: cache or store work, no socket)")
          .tags(tags).tag("command", c.tag).register(registry));
    }
    readBytes = own(Counter.builder("bucketdisk.nbd.payload").baseUnit("bytes")
        .description("NBD payload bytes").tags(tags).tag("direction", "read").register(registry));
    writeBytes = own(Counter.builder("bucketdisk.nbd.payload").baseUnit("bytes")
        .description("NBD payload bytes").tags(tags).tag("direction", "write").register(registry));
    own(Gauge.builder("bucketdisk.volume.connections", this, m -> m.handles)
        .description("NBD connections (export handles) open on the volume").tags(tags).register(registry));
  }

  private <M extends Meter> M own(M meter) {
    owned.add(meter);
    return meter;
  }

  Timer timer(Command c) {
    return timers[c.ordinal()];
  }

  void read(long bytes) {
    readBytes.increment(bytes);
  }

  void written(long bytes) {
    writeBytes.increment(bytes);
  }

  /** Counts a failed request by the NBD error the client sees ({@code EIO} for anything but an ExportException). */
  void error(Command c, Throwable t) {
    String error = t instanceof ExportException e ? e.error().name() : "EIO";
    registry.counter("bucketdisk.nbd.errors", tags.and("command", c.tag, "error", error)).increment();
  }

  /** Binds the cache meters to {@code v} unless they already read it. */
  void bind(Volume v) {
    if (cache == v) {
      return;
    }
    unbindCache();
    cache = v;
    VolumeCounters c = v.counters();
    storeRequests(c, "get", VolumeCounters::gets);
    storeRequests(c, "range_get", VolumeCounters::rangeGets);
    storeRequests(c, "put", VolumeCounters::puts);
    storeRequests(c, "delete", VolumeCounters::deletes);
    storeRequests(c, "delete_batch", VolumeCounters::deleteRequests);
    counter(c, "bucketdisk.volume.store.failures", Tags.empty(), null,
        "chunk store calls that failed after the store's retries", VolumeCounters::failures);
    counter(c, "bucketdisk.volume.store.payload", Tags.of("direction", "up"), "bytes",
        "chunk bytes sent to the store", VolumeCounters::bytesUp);
    counter(c, "bucketdisk.volume.store.payload", Tags.of("direction", "down"), "bytes",
        "chunk bytes received from the store", VolumeCounters::bytesDown);
    counter(c, "bucketdisk.volume.cache.lookups", Tags.of("result", "hit"), null,
        "chunk reads served from memory (hit) or needing the store (miss)", VolumeCounters::hits);
    counter(c, "bucketdisk.volume.cache.lookups", Tags.of("result", "miss"), null,
        "chunk reads served from memory (hit) or needing the store (miss)", VolumeCounters::misses);
    counter(c, "bucketdisk.volume.cache.readaheads", Tags.empty(), null,
        "chunk loads started by read-ahead or NBD CACHE", VolumeCounters::readAheads);
    counter(c, "bucketdisk.volume.flushes", Tags.empty(), null,
        "flushes to the store (NBD FLUSH and FUA)", VolumeCounters::flushes);
    counter(c, "bucketdisk.volume.checksum.mismatches", Tags.empty(), null,
        "logged extents read back with a CRC32C mismatch (each read failed with EIO)",
        VolumeCounters::checksumMismatches);
    counter(c, "bucketdisk.volume.log.evictions", Tags.empty(), null,
        "dirty chunks whose changes were all logged that left memory without a chunk PUT", VolumeCounters::logEvictions);
    counter(c, "bucketdisk.volume.log.compacted", Tags.empty(), null,
        "chunks the compactor folded from the write log into their chunk objects", VolumeCounters::compactedChunks);
    cacheMeters.add(Gauge.builder("bucketdisk.volume.dirty", v, Volume::dirtyBytes).baseUnit("bytes")
        .description("acknowledged bytes not yet stored").tags(tags).register(registry));
    cacheMeters.add(Gauge.builder("bucketdisk.volume.dirty.chunks", v, Volume::dirtyChunks)
        .description("chunks not yet stored").tags(tags).register(registry));
    cacheMeters.add(TimeGauge.builder("bucketdisk.volume.dirty.oldest.age", v, TimeUnit.NANOSECONDS,
            Volume::oldestDirtyAgeNanos)
        .description("age of the oldest acknowledged change not yet stored: the data-loss window of a crash now")
        .tags(tags).register(registry));
    cacheMeters.add(Gauge.builder("bucketdisk.volume.lease.valid", v, Volume::leaseValidSeconds)
        .baseUnit("seconds").description("how long the volume's lease stays valid without a renewal; 0 = fenced or "
            + "expired (writes refused), NaN = no lease (read-only)").tags(tags).register(registry));
    cacheMeters.add(Gauge.builder("bucketdisk.volume.size", v, Volume::size).baseUnit("bytes")
        .description("volume size").tags(tags).register(registry));
  }

  private void storeRequests(VolumeCounters c, String type, ToDoubleFunction<VolumeCounters> f) {
    counter(c, "bucketdisk.volume.store.requests", Tags.of("type", type), null,
        "chunk store calls by type (get, range_get, put, delete, delete_batch)", f);
  }

  private void counter(VolumeCounters c, String name, Tags extra, @Nullable String unit, String help,
      ToDoubleFunction<VolumeCounters> f) {
    var b = FunctionCounter.builder(name, c, f).description(help).tags(tags).tags(extra);
    if (unit != null) {
      b.baseUnit(unit);
    }
    cacheMeters.add(b.register(registry));
  }

  private void unbindCache() {
    cacheMeters.forEach(registry::remove);
    cacheMeters.clear();
    cache = null;
  }

  /** Removes every meter of this volume, including error counters created on demand. */
  void remove() {
    unbindCache();
    owned.forEach(registry::remove);
    for (Meter m : List.copyOf(registry.find("bucketdisk.nbd.errors").tag("volume", volume).meters())) {
      registry.remove(m);
    }
  }
}
