package io.bucketdisk.store;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.layout.VolumeManifest;
import io.bucketdisk.store.outage.Outage;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lease one open handle holds on its volume, and the fence that ends it: once {@link #start started}, renewed
 * every third of the lease duration on a virtual thread and counted valid until {@code (send time of the last
 * successful renewal) + duration - clock skew} on the monotonic clock. Past that, or once a renewal finds the lease
 * taken, {@link #check} throws CONFLICT for good. A read-only handle has no owner and never starts it. Thread safe.
 */
final class VolumeLease {
  // lease events log under the handle's name, whichever part does the work
  private static final Logger log = LoggerFactory.getLogger(VolumeChunkStore.class);

  private final VolumeCatalog catalog;
  private final String dataVolume;
  private final @Nullable LeaseOwner owner;
  private final LongSupplier size;
  private final Outage renewals;
  private final Duration leaseDuration;
  private final long validityNanos;
  private final CountDownLatch closing = new CountDownLatch(1);

  private volatile long validUntilNanos;
  private volatile @Nullable String fenced;
  private volatile @Nullable Thread renewer;

  /** {@code size} is the handle's current size in bytes, for the log line when a renewal sees the volume grown. */
  VolumeLease(VolumeCatalog catalog, String dataVolume, @Nullable LeaseOwner owner, LongSupplier size) {
    this.catalog = catalog;
    this.dataVolume = dataVolume;
    this.owner = owner;
    this.size = size;
    this.renewals = new Outage(log, "volume " + dataVolume);
    this.leaseDuration = catalog.options().leaseDuration();
    this.validityNanos = leaseDuration.minus(catalog.options().clockSkew()).toNanos();
  }

  /** The owner, or null for a read-only handle. */
  @Nullable LeaseOwner owner() {
    return owner;
  }

  /** Starts renewing a lease whose acquisition was sent at {@code sentNanos} ({@link System#nanoTime}). */
  void start(long sentNanos) {
    LeaseOwner o = Objects.requireNonNull(owner, "a read-only handle holds no lease");
    validUntilNanos = sentNanos + validityNanos;
    renewer = Thread.ofVirtual().name("lease-" + dataVolume).start(() -> renewLoop(o));
  }

  private void renewLoop(LeaseOwner o) {
    long interval = Math.max(50, leaseDuration.toMillis() / 3);
    long wait = interval;
    while (closing.getCount() > 0 && fenced == null) {
      try {
        if (closing.await(wait, TimeUnit.MILLISECONDS)) {
          return;
        }
      } catch (InterruptedException e) {
        return;
      }
      long sent = System.nanoTime();
      try {
        VolumeManifest m = catalog.renewLease(dataVolume, o);
        validUntilNanos = sent + validityNanos;
        renewals.succeeded();
        wait = interval;
        if (m.sizeBytes() > size.getAsLong()) {
          log.info("volume {}: size grew to {} bytes (seen at lease renewal; refresh to use it)", dataVolume,
              m.sizeBytes());
        }
      } catch (StoreException e) {
        if (e.kind() == Kind.CONFLICT || e.kind() == Kind.NOT_FOUND) {
          fence(e.getMessage());
          return;
        }
        renewals.failed("lease renewal", "lease renewal failed, retrying: " + e.getMessage());
        wait = Math.max(20, interval / 4);
      } catch (IOException | RuntimeException e) {
        renewals.failed("lease renewal", "lease renewal failed, retrying: " + e);
        wait = Math.max(20, interval / 4);
      }
      if (System.nanoTime() - validUntilNanos > 0) {
        fence("lease expired: not renewed within " + leaseDuration);
        return;
      }
    }
  }

  private void fence(String why) {
    if (fenced == null) {
      fenced = why;
      log.error("volume {}: FENCED, refusing writes from now on: {}", dataVolume, why);
    }
  }

  /** CONFLICT when the volume is fenced, or the lease ran out now. */
  void check() throws StoreException {
    String why = fenced;
    if (why == null && System.nanoTime() - validUntilNanos > 0) {
      fence("lease expired: not renewed within " + leaseDuration);
      why = fenced;
    }
    if (why != null) {
      throw new StoreException(Kind.CONFLICT, "volume " + dataVolume + " is fenced: " + why);
    }
  }

  /** Seconds the lease is still counted valid; 0 once fenced. */
  double validSeconds() {
    long left = validUntilNanos - System.nanoTime();
    return fenced != null || left <= 0 ? 0 : left / 1e9;
  }

  /** Stops renewing, waiting for a renewal in flight, then releases the lease unless fenced. Call once. */
  void stop() throws IOException {
    closing.countDown();
    Thread t = renewer;
    if (t != null) {
      // no interrupt: it would close the store's interruptible channels under a request in flight
      try {
        // let a renewal in flight finish first, so the release below is the last word on the lease
        t.join(leaseDuration.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    LeaseOwner o = owner;
    if (o != null && fenced == null) {
      catalog.releaseLease(dataVolume, o.id());
      log.info("volume {}: closed, lease released", dataVolume);
    }
  }
}
