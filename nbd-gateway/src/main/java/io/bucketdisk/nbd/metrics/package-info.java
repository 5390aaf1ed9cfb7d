/**
 * The gateway's Prometheus meters, read from the counters the data path already keeps rather than counted twice.
 *
 * <p><b>Where each number comes from.</b> NBD requests (count, latency histogram, errors, payload bytes) and open
 * connections per volume are measured by {@link io.bucketdisk.nbd.metrics.MeteredExportProvider}, a wrapper around
 * the provider the {@code NbdListener} serves: every handle it opens is a {@code MeteredExport} that times the verbs
 * at the export boundary (after validation, before the reply is written), so the server code carries no metrics
 * hook. Store traffic, cache hits and misses, dirty bytes and the oldest dirty age (the data-loss window: what a
 * crash now would lose) are function meters over the volume's own {@code VolumeCounters} and {@code VolumeCache},
 * registered while the volume is open and removed when its last handle closes. Object-store requests (latency by
 * operation, retries, failures by kind, bytes) come from {@link io.bucketdisk.nbd.metrics.StoreMeters}, the
 * store's {@code StoreMetrics} listener. Gateway-wide gauges (connections, cache bytes, dirty budget) are bound by
 * {@link io.bucketdisk.nbd.metrics.GatewayMeters}.
 *
 * <p><b>Health.</b> {@link io.bucketdisk.nbd.metrics.GatewayMeters#health} is healthy while the listener is serving
 * and the provider can list its exports (for a store-backed provider that is a request to the bucket).
 *
 * <p><b>Cost.</b> A request does one {@code nanoTime} pair, one timer record and at most one counter add; meters
 * are resolved when the handle opens, never per request.
 */
@NullMarked
package io.bucketdisk.nbd.metrics;

import org.jspecify.annotations.NullMarked;
