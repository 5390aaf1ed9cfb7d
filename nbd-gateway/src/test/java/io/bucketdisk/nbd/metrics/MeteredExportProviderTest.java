package io.bucketdisk.nbd.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ExportException;
import io.bucketdisk.nbd.export.ExportProvider;
import io.bucketdisk.nbd.export.ForwardingExport;
import io.bucketdisk.nbd.export.NbdError;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import io.bucketdisk.nbd.export.MemoryExport;
import io.bucketdisk.nbd.export.MemoryExportProvider;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class MeteredExportProviderTest {

  @Test
  void countsVerbsBytesErrorsAndHandlesAndRemovesTheVolumesMetersAtTheLastClose() throws Exception {
    var registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    var memory = new MemoryExportProvider(new MemoryExport("rw", "", 1 << 20), new MemoryExport("full", "", 1 << 20));
    var failing = new ExportProvider() {
      @Override
      public List<Listing> list() {
        return memory.list();
      }

      @Override
      public Optional<Export> open(String name) throws IOException {
        return memory.open(name).map(e -> !name.equals("full") ? e : new ForwardingExport(e) {
          @Override
          public void write(long offset, ByteBuffer src, int flags) throws IOException {
            throw new ExportException(NbdError.ENOSPC, "full");
          }
        });
      }

      @Override
      public Optional<String> defaultExport() {
        return Optional.empty();
      }

      @Override
      public void close() {
        memory.close();
      }
    };
    var provider = new MeteredExportProvider(failing, registry);
    Export a = provider.open("rw").orElseThrow();
    Export b = provider.open("rw").orElseThrow();
    a.write(0, ByteBuffer.allocate(4096), 0);
    b.read(0, ByteBuffer.allocate(512), 0);
    b.flush(0);
    assertThat(registry.get("bucketdisk.nbd.requests").tags("volume", "rw", "command", "write").timer().count())
        .isEqualTo(1);
    assertThat(registry.get("bucketdisk.nbd.payload").tags("volume", "rw", "direction", "read").counter().count())
        .isEqualTo(512);
    assertThat(registry.get("bucketdisk.volume.connections").tag("volume", "rw").gauge().value()).isEqualTo(2);

    Export ro = provider.open("full").orElseThrow();
    assertThatThrownBy(() -> ro.write(0, ByteBuffer.allocate(512), 0)).isInstanceOf(ExportException.class);
    assertThat(registry.get("bucketdisk.nbd.errors").tags("volume", "full", "command", "write", "error", "ENOSPC")
        .counter().count()).isEqualTo(1);
    assertThat(registry.get("bucketdisk.nbd.payload").tags("volume", "full", "direction", "write").counter().count())
        .as("failed writes move no bytes").isZero();

    a.close();
    a.close(); // idempotent: counts once
    assertThat(registry.get("bucketdisk.volume.connections").tag("volume", "rw").gauge().value()).isEqualTo(1);
    b.close();
    ro.close();
    assertThat(registry.find("bucketdisk.volume.connections").meters()).isEmpty();
    assertThat(registry.find("bucketdisk.nbd.requests").meters()).isEmpty();
    assertThat(registry.find("bucketdisk.nbd.errors").meters()).isEmpty();
    assertThat(registry.scrape()).doesNotContain("volume=\"rw\"").doesNotContain("volume=\"full\"")
        .contains("bucketdisk_gateway_volumes_open 0");
    assertThat(provider.open("nope")).isEmpty();
  }
}
