package io.bucketdisk.nbd.metrics;

import io.bucketdisk.nbd.export.ForwardingExportProvider;
import io.bucketdisk.nbd.export.VolumeExport;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ExportProvider;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * An {@link ExportProvider} that measures the one it wraps: each handle it hands out times the NBD verbs of its
 * volume, and while a volume has handles open its meters (NBD requests, connections, and for a {@link
 * VolumeExport} the cache and store counters, dirty bytes and oldest dirty age) are in the registry, tagged {@code
 * volume}. Give the wrapper to the {@code NbdListener}; everything else (the control API) keeps using the wrapped
 * provider. Thread safe; {@link #close} closes the wrapped provider.
 */
public final class MeteredExportProvider extends ForwardingExportProvider {

  private final MeterRegistry registry;
  private final ConcurrentMap<String, VolumeMeters> volumes = new ConcurrentHashMap<>();

  public MeteredExportProvider(ExportProvider delegate, MeterRegistry registry) {
    super(delegate);
    this.registry = registry;
    Gauge.builder("bucketdisk.gateway.volumes.open", volumes, ConcurrentMap::size)
        .description("volumes with at least one NBD handle open").register(registry);
  }

  @Override
  public Optional<Export> open(String name) throws IOException {
    Optional<Export> opened = delegate().open(name);
    if (opened.isEmpty()) {
      return opened;
    }
    Export export = opened.get();
    String volume = export.name();
    VolumeMeters meters = volumes.compute(volume, (k, m) -> {
      VolumeMeters v = m == null ? new VolumeMeters(registry, k) : m;
      v.handles++;
      if (export instanceof VolumeExport ve) {
        v.bind(ve.volume());
      }
      return v;
    });
    return Optional.of(new MeteredExport(export, meters, () -> released(volume)));
  }

  private void released(String volume) {
    volumes.computeIfPresent(volume, (k, m) -> {
      if (--m.handles > 0) {
        return m;
      }
      m.remove();
      return null;
    });
  }
}
