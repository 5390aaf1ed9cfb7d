/**
 * Operations plumbing shared by the three daemons (gateway, controller, node plugin): one HTTP endpoint per
 * process serving Prometheus text at {@code /metrics} and a real liveness answer at {@code /healthz}, and one gRPC
 * {@link io.grpc.ServerInterceptor} that times every RPC by method and status code.
 *
 * <p><b>Shape.</b> {@link io.bucketdisk.metrics.MetricsServer} owns the HTTP socket (the JDK's {@code
 * com.sun.net.httpserver}, handlers on virtual threads) and a {@link
 * io.micrometer.prometheusmetrics.PrometheusMeterRegistry}; components register their meters in that registry and
 * hand the server one {@link io.bucketdisk.metrics.HealthCheck}. Meter names start with {@code bucketdisk.}; the
 * names as Prometheus sees them are listed in {@code docs/metrics.md}.
 *
 * <p><b>Health.</b> {@code /healthz} runs the component's check on every request, bounded by a timeout, so a hung
 * store answers 503 instead of hanging the kubelet's probe. No caching: a probe every few seconds is cheap next to
 * the I/O it guards.
 *
 * <p><b>Cardinality.</b> Tags are bounded sets (RPC method, status code, NBD command, volume id of an open volume);
 * per-volume meters are removed when the volume closes.
 */
@NullMarked
package io.bucketdisk.metrics;

import org.jspecify.annotations.NullMarked;
