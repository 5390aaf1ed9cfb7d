package io.bucketdisk.store.layout;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.time.Duration;
import java.time.Instant;

/**
 * The single-writer lease on a volume, stored inside its manifest. {@code ownerId} is the gateway holding it,
 * {@code ownerAddress} its control API address, {@code expiresAtMillis} the wall-clock time (epoch millis) after
 * which another owner may take it over unless it was renewed. The holder itself stops acknowledging writes earlier,
 * measured on its own monotonic clock from the moment it sent the renewal (see {@code VolumeCatalog}).
 */
public record Lease(String ownerId, String ownerAddress, long acquiredAtMillis, long expiresAtMillis) {

  @JsonIgnore
  public Instant expiresAt() {
    return Instant.ofEpochMilli(expiresAtMillis);
  }

  /** True when the lease has run out at {@code nowMillis}. */
  public boolean expiredAt(long nowMillis) {
    return nowMillis >= expiresAtMillis;
  }

  /**
   * True while its owner may still hold the lease at {@code nowMillis} on another clock: until its expiry plus the
   * clock-skew allowance, the rule another owner waits out before a takeover.
   */
  public boolean mayBeHeldAt(long nowMillis, Duration clockSkew) {
    return nowMillis < expiresAtMillis + clockSkew.toMillis();
  }
}
