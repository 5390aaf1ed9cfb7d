package io.bucketdisk.controller.metrics;

import io.bucketdisk.metrics.HealthCheck;
import io.bucketdisk.store.VolumeCatalog;

/**
 * The controller is healthy when its bucket answers: the same one-key LIST that CSI Probe does, so {@code /healthz}
 * and Probe agree. Thread safe.
 */
public final class ControllerHealth {

  private ControllerHealth() {}

  /** A check that lists one key under {@code volumes/} of {@code catalog}'s store. */
  public static HealthCheck of(VolumeCatalog catalog) {
    return () -> {
      try {
        catalog.objectStore().list("volumes/", null, 1);
      } catch (Exception e) {
        throw new IllegalStateException("store " + catalog.objectStore().describe() + " is not reachable: "
            + e.getMessage(), e);
      }
    };
  }
}
