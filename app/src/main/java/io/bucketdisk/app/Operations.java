package io.bucketdisk.app;

import io.bucketdisk.metrics.HealthCheck;
import io.bucketdisk.metrics.MetricsServer;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.nbd.export.ExportProvider;
import io.bucketdisk.nbd.metrics.GatewayMeters;
import io.bucketdisk.nbd.metrics.MeteredExportProvider;
import io.bucketdisk.nbd.metrics.StoreMeters;
import io.bucketdisk.nbd.server.NbdListener;
import io.bucketdisk.store.StoreMetrics;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import org.jspecify.annotations.Nullable;

/**
 * The {@code --metrics HOST:PORT} endpoint of a command: {@code /metrics} and {@code /healthz} (see {@link
 * MetricsServer}). Started before the component so a bad flag fails fast; {@code /healthz} answers 503 ("starting")
 * until the component hands over its real check with {@link #health}. Closed by the JVM shutdown hook.
 */
final class Operations {

  private final MetricsServer server;
  private volatile HealthCheck health = () -> {
    throw new IllegalStateException("starting");
  };
  private @Nullable StoreMeters storeMeters;

  private Operations(PrometheusMeterRegistry registry, String address) {
    try {
      this.server = MetricsServer.start(address, registry, () -> health.check());
    } catch (IllegalArgumentException e) {
      throw new UserError("--metrics " + e.getMessage());
    } catch (IOException e) {
      throw new UserError("--metrics " + address + ": cannot listen (" + e.getMessage() + "); choose another port");
    }
    Runtime.getRuntime().addShutdownHook(new Thread(server::close, "bucketdisk-metrics-stop"));
  }

  /** Starts the endpoint, or returns null when the flag is absent. */
  static @Nullable Operations start(@Nullable String address) {
    return address == null ? null : new Operations(MetricsServer.newRegistry(), address);
  }

  PrometheusMeterRegistry registry() {
    return server.registry();
  }

  /** The store listener feeding {@code bucketdisk_store_*}. */
  synchronized StoreMetrics storeMetrics() {
    if (storeMeters == null) {
      storeMeters = new StoreMeters(registry());
    }
    return storeMeters;
  }

  /** Sets the real health check. */
  void health(HealthCheck check) {
    health = check;
  }

  /** Healthy while something accepts connections on the Unix socket {@code socket} (the CSI endpoint). */
  static HealthCheck socketAnswers(java.nio.file.Path socket) {
    return () -> {
      try (var ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
        ch.connect(java.net.UnixDomainSocketAddress.of(socket));
      } catch (IOException e) {
        throw new IllegalStateException("CSI endpoint unix://" + socket + " does not answer: " + e.getMessage(), e);
      }
    };
  }

  /** The gateway's provider, measured: give the result to the NBD listener. */
  ExportProvider gateway(ExportProvider provider) {
    if (provider instanceof VolumeExportProvider volumes) {
      GatewayMeters.bind(volumes.volumes().chunkCache(), registry());
    }
    return new MeteredExportProvider(provider, registry());
  }

  /** The gateway is listening: its meters, and health = serving and the store answers. */
  void serving(NbdListener listener, ExportProvider provider) {
    GatewayMeters.bind(listener, registry());
    ExportProvider measured = provider instanceof MeteredExportProvider m ? m.delegate() : provider;
    HealthCheck serving = GatewayMeters.health(listener, measured);
    // during an outage say since when the store fails, before the listing fails with only the last error
    StoreMeters store = storeMeters;
    health(store == null ? serving : store.health().and(serving));
  }
}
