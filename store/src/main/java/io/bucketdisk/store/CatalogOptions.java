package io.bucketdisk.store;

import java.time.Clock;
import java.time.Duration;

/**
 * Tuning of a {@link VolumeCatalog}: the wall clock used for lease times, the lease duration (a holder renews every
 * third of it and stops acknowledging writes when it could not renew within it), the clock-skew allowance a new owner
 * waits past another owner's expiry before taking over, and the metrics listener.
 */
public record CatalogOptions(Clock clock, Duration leaseDuration, Duration clockSkew, StoreMetrics metrics) {

  public CatalogOptions {
    if (leaseDuration.toMillis() < 300) {
      throw new IllegalArgumentException("lease duration must be at least 300 ms");
    }
  }

  /** System clock, 30 s leases, 2 s skew allowance, no metrics. */
  public static CatalogOptions defaults() {
    return new CatalogOptions(Clock.systemUTC(), Duration.ofSeconds(30), Duration.ofSeconds(2), StoreMetrics.NONE);
  }

  public CatalogOptions withLeaseDuration(Duration d) {
    return new CatalogOptions(clock, d, clockSkew, metrics);
  }

  public CatalogOptions withClock(Clock c) {
    return new CatalogOptions(c, leaseDuration, clockSkew, metrics);
  }

  public CatalogOptions withClockSkew(Duration d) {
    return new CatalogOptions(clock, leaseDuration, d, metrics);
  }

  public CatalogOptions withMetrics(StoreMetrics m) {
    return new CatalogOptions(clock, leaseDuration, clockSkew, m);
  }
}
