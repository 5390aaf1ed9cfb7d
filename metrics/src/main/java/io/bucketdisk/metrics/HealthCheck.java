package io.bucketdisk.metrics;

/**
 * A component's liveness question, asked by {@code /healthz}: returns normally when the component is really able to
 * do its work (its store answers, its listener is serving), throws with a one-line reason otherwise. Must be thread
 * safe; may block (it runs on its own virtual thread, bounded by {@link MetricsServer}'s timeout).
 */
@FunctionalInterface
public interface HealthCheck {

  /** Always healthy: for components that have nothing to check beyond answering HTTP. */
  HealthCheck ALWAYS = () -> {};

  /** Returns when healthy; throws with the reason when not. */
  void check() throws Exception;

  /** Healthy only when this and {@code other} are. */
  default HealthCheck and(HealthCheck other) {
    return () -> {
      check();
      other.check();
    };
  }
}
