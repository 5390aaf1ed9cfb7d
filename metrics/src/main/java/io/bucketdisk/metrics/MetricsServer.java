package io.bucketdisk.metrics;

import io.bucketdisk.common.net.Endpoint;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operations endpoint of one bucketdisk process: {@code GET /metrics} answers the Prometheus text exposition of
 * {@link #registry()}, {@code GET /healthz} answers {@code 200 ok} when the {@link HealthCheck} passes within
 * its timeout ({@link #HEALTH_TIMEOUT} by default) and {@code 503} with the reason otherwise (a check that hangs counts as failing).
 *
 * <p>Served by the JDK's {@link HttpServer} with one virtual thread per exchange. Thread safe. {@link #close} stops
 * the listener; the registry stays usable (meters keep counting) until the process ends.
 */
public final class MetricsServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(MetricsServer.class);

  /** How long {@code /healthz} waits for the check by default; keep the probe's {@code timeoutSeconds} above it. */
  public static final Duration HEALTH_TIMEOUT = Duration.ofSeconds(5);

  private final HttpServer http;
  private final PrometheusMeterRegistry registry;
  private final ExecutorService executor;
  private final HealthCheck health;
  private final Duration healthTimeout;

  private MetricsServer(HttpServer http, PrometheusMeterRegistry registry, ExecutorService executor,
      HealthCheck health, Duration healthTimeout) {
    this.http = http;
    this.registry = registry;
    this.executor = executor;
    this.health = health;
    this.healthTimeout = healthTimeout;
  }

  /** A Prometheus registry with the JVM's own meters (memory, GC, threads, CPU, uptime) already bound. */
  public static PrometheusMeterRegistry newRegistry() {
    var registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    return registry;
  }

  /**
   * The TCP address of {@code address} ({@link Endpoint}: {@code HOST:PORT}, {@code [IPV6]:PORT}, {@code :PORT} for
   * every interface; port 0 picks a free one), resolved. Anything else is an {@link IllegalArgumentException} whose
   * message shows the expected forms.
   */
  public static InetSocketAddress parse(String address) {
    try {
      return Endpoint.parseTcp(address, "metrics address").socketAddress();
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException("metrics address '" + address.strip() + "': unknown host " + e.getMessage());
    }
  }


  /**
   * Starts serving {@code registry} and {@code health} on {@code address} ({@link #parse} form).
   *
   * @throws IllegalArgumentException when {@code address} is malformed
   * @throws IOException when the address cannot be bound (in use, not local)
   */
  public static MetricsServer start(String address, PrometheusMeterRegistry registry, HealthCheck health)
      throws IOException {
    return start(address, registry, health, HEALTH_TIMEOUT);
  }

  /** {@link #start(String, PrometheusMeterRegistry, HealthCheck)} with another health-check timeout. */
  public static MetricsServer start(String address, PrometheusMeterRegistry registry, HealthCheck health,
      Duration healthTimeout) throws IOException {
    InetSocketAddress bind = parse(address);
    if (bind.isUnresolved()) {
      throw new IOException("cannot resolve host of " + address);
    }
    HttpServer http = HttpServer.create(bind, 0);
    ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("metrics-", 0).factory());
    http.setExecutor(executor);
    var server = new MetricsServer(http, registry, executor, health, healthTimeout);
    http.createContext("/metrics", server::metrics);
    http.createContext("/healthz", server::healthz);
    http.start();
    log.info("metrics on http://{}:{}/metrics, health on /healthz", bind.getHostString(), server.port());
    return server;
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /** The bound port (useful after binding port 0). */
  public int port() {
    return http.getAddress().getPort();
  }

  private void metrics(HttpExchange ex) throws IOException {
    try (ex) {
      if (!"GET".equals(ex.getRequestMethod()) && !"HEAD".equals(ex.getRequestMethod())) {
        reply(ex, 405, "use GET\n");
        return;
      }
      ex.getResponseHeaders().add("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      reply(ex, 200, registry.scrape());
    }
  }

  private void healthz(HttpExchange ex) throws IOException {
    try (ex) {
      String failure = healthFailure();
      ex.getResponseHeaders().add("Content-Type", "text/plain; charset=utf-8");
      if (failure == null) {
        reply(ex, 200, "ok\n");
      } else {
        log.warn("health check failed: {}", failure);
        reply(ex, 503, "unhealthy: " + failure + "\n");
      }
    }
  }

  /** Runs the check once; null when healthy, else the reason. */
  String healthFailure() {
    var result = executor.submit(() -> {
      health.check();
      return null;
    });
    try {
      result.get(healthTimeout.toMillis(), TimeUnit.MILLISECONDS);
      return null;
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      return cause.getMessage() == null ? cause.toString() : cause.getMessage();
    } catch (TimeoutException e) {
      result.cancel(true);
      return "health check did not answer within " + healthTimeout.toMillis() + " ms";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  private static void reply(HttpExchange ex, int code, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    boolean head = "HEAD".equals(ex.getRequestMethod());
    ex.sendResponseHeaders(code, head ? -1 : bytes.length);
    if (!head) {
      ex.getResponseBody().write(bytes);
    }
  }

  /** Stops listening (in-flight scrapes get up to one second). */
  @Override
  public void close() {
    http.stop(1);
    executor.shutdownNow();
  }
}
