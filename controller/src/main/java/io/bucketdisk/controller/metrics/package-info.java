/**
 * The controller's operations hooks: its liveness check for {@code /healthz}. RPC metrics come from the shared
 * {@link io.bucketdisk.metrics.GrpcServerMetrics} interceptor that {@code CsiServer} installs when given a registry.
 */
@NullMarked
package io.bucketdisk.controller.metrics;

import org.jspecify.annotations.NullMarked;
