package io.bucketdisk.controller;

import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

/**
 * Prometheus text exposition of a {@link PrometheusMeterRegistry} (with JVM memory, GC, thread and CPU meters) at
 * {@code http://HOST:PORT/metrics}, served by the JDK's HTTP server on virtual threads. Thread safe; close to stop.
 */
public final class MetricsEndpoint implements AutoCloseable {

  private final HttpServer http;
  private final PrometheusMeterRegistry registry;

  private MetricsEndpoint(HttpServer http, PrometheusMeterRegistry registry) {
    this.http = http;
    this.registry = registry;
  }

  /** Parses {@code HOST:PORT} (or {@code :PORT} for all interfaces) and starts serving. */
  public static MetricsEndpoint start(String hostPort) throws IOException {
    int colon = hostPort.lastIndexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException("metrics address '" + hostPort + "' must be HOST:PORT, e.g. 0.0.0.0:9811");
    }
    String host = hostPort.substring(0, colon);
    int port;
    try {
      port = Integer.parseInt(hostPort.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("metrics address '" + hostPort + "' has no valid port, e.g. 0.0.0.0:9811");
    }
    var registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    var http = HttpServer.create(host.isEmpty() ? new InetSocketAddress(port) : new InetSocketAddress(host, port), 0);
    http.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    http.createContext("/metrics", ex -> {
      byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().add("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      ex.sendResponseHeaders(200, body.length);
      try (var os = ex.getResponseBody()) {
        os.write(body);
      }
    });
    http.start();
    return new MetricsEndpoint(http, registry);
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  public int port() {
    return http.getAddress().getPort();
  }

  @Override
  public void close() {
    http.stop(0);
    registry.close();
  }
}
