package io.bucketdisk.store;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.layout.Lease;
import io.bucketdisk.store.layout.VolumeManifest;
import io.bucketdisk.store.layout.VolumeManifest.State;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one-writer lease in each volume's manifest: acquired, renewed and released through {@link Manifests#update},
 * so two owners can never both believe they hold it. Another owner's lease is live until its expiry plus the
 * clock-skew allowance, unless the new owner {@link LeaseOwner#replaces replaces} the holder; taking over moves the
 * volume to a new epoch. Thread safe; CONFLICT (naming the holder) when the lease is not the caller's to take.
 */
final class Leases {
  // catalog events log under the catalog's name, whichever part does the work
  private static final Logger log = LoggerFactory.getLogger(VolumeCatalog.class);

  private final Manifests manifests;
  private final CatalogOptions options;

  Leases(Manifests manifests, CatalogOptions options) {
    this.manifests = manifests;
    this.options = options;
  }

  /** Acquires, or renews when {@code owner} holds it; see {@link VolumeCatalog#acquireLease}. */
  VolumeManifest acquire(String volumeId, LeaseOwner owner) throws IOException {
    Layout.checkId("volume", volumeId);
    VolumeManifest m = manifests.update(volumeId, cur -> {
      Manifests.requireReady(cur);
      long now = manifests.millis();
      Lease l = cur.lease();
      boolean mine = l != null && l.ownerId().equals(owner.id());
      boolean gone = l != null && owner.replaces(l.ownerId());
      if (l != null && !mine && !gone && l.mayBeHeldAt(now, options.clockSkew())) {
        boolean sameNode = LeaseOwner.node(l.ownerId()).equals(LeaseOwner.node(owner.id()));
        throw new StoreException(Kind.CONFLICT, "volume " + cur.id() + " is held by gateway " + l.ownerId() + " ("
            + l.ownerAddress() + ") until " + l.expiresAt() + "; it must release the lease or let it expire"
            + (sameNode ? " (another live process with this node's name: one gateway per node)" : ""));
      }
      VolumeManifest next = cur;
      if (l != null && !mine) {
        // taking over an expired lease: move to a new epoch, so that a late PUT of the old owner (sent before its
        // lease ran out, landing after) can never replace what the new owner writes
        if (cur.epoch() >= Layout.MAX_EPOCH) {
          throw new StoreException(Kind.PERMANENT, "volume " + cur.id() + " has used up its epochs");
        }
        next = cur.withSnapshots(cur.epoch() + 1, cur.snapshots());
        log.warn("volume {}: gateway {} takes over the {} of gateway {} ({})", cur.id(), owner.id(),
            gone ? "lease (at once: that process is gone)" : "expired lease", l.ownerId(), l.ownerAddress());
      }
      if (!mine) {
        next = next.withNextWriter();
      }
      return next.withLease(new Lease(owner.id(), owner.address(), mine ? l.acquiredAtMillis() : now,
          now + options.leaseDuration().toMillis()));
    });
    Lease before = m.lease();
    log.debug("volume {}: lease held by {} until {}", volumeId, owner.id(), before == null ? null : before.expiresAt());
    return m;
  }

  /** Renews only: CONFLICT when {@code owner} does not hold the lease any more (taken over or released). */
  VolumeManifest renew(String volumeId, LeaseOwner owner) throws IOException {
    return manifests.update(volumeId, cur -> {
      Lease l = cur.lease();
      if (cur.state() != State.READY || l == null || !l.ownerId().equals(owner.id())) {
        throw new StoreException(Kind.CONFLICT, "volume " + volumeId + ": lease lost"
            + (l == null ? "" : " to gateway " + l.ownerId() + " (" + l.ownerAddress() + ")"));
      }
      return cur.withLease(new Lease(owner.id(), owner.address(), l.acquiredAtMillis(),
          manifests.millis() + options.leaseDuration().toMillis()));
    });
  }

  /** Releases the lease if {@code ownerId} holds it; no-op otherwise, also when the volume is gone. */
  void release(String volumeId, String ownerId) throws IOException {
    try {
      manifests.update(volumeId,
          cur -> cur.lease() != null && cur.lease().ownerId().equals(ownerId) ? cur.withLease(null) : cur);
    } catch (StoreException e) {
      if (e.kind() != Kind.NOT_FOUND) {
        throw e;
      }
    }
  }
}
