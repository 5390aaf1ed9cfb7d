package io.bucketdisk.controller;

import io.bucketdisk.store.Page;
import io.bucketdisk.store.StoreException;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.VolumeIds;
import io.bucketdisk.store.layout.Lease;
import io.bucketdisk.store.layout.SnapshotRecord;
import io.bucketdisk.store.layout.VolumeManifest;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Snapshots: idempotent create (O(1) in the store: record the epoch and bump it, no data copied), delete, get and
 * paged list. When the source volume is open on a gateway (its lease is live), the snapshot is cut by that gateway
 * through its control API, so it holds every write the gateway acknowledged before the call; otherwise the catalog
 * cuts it directly. Thread safe; see {@link VolumeManager} for locking and errors.
 */
public final class SnapshotManager {

  private static final Logger log = LoggerFactory.getLogger(SnapshotManager.class);
  private final VolumeManager volumes;
  private final VolumeCatalog catalog;
  private final GatewayClient gateways;

  public SnapshotManager(VolumeManager volumes, GatewayClient gateways) {
    this.volumes = volumes;
    this.catalog = volumes.catalog();
    this.gateways = gateways;
  }

  /**
   * Cuts snapshot {@code name} of {@code volumeId}, or returns the one an earlier call with the same name and volume
   * cut. ALREADY_EXISTS when the name is taken by a snapshot of another volume; NOT_FOUND when the volume is missing.
   */
  public SnapshotRecord create(String name, String volumeId) throws IOException {
    String id = VolumeIds.forName(name);
    try (var lock = volumes.locks().acquire("snapshot:" + id, "volume:" + volumeId)) {
      var existing = catalog.getSnapshot(id);
      if (existing.isPresent()) {
        return sameSource(existing.get(), name, volumeId);
      }
      VolumeManifest vol = volumes.get(volumeId)
          .orElseThrow(() -> VolumeError.notFound("source volume " + volumeId + " does not exist"));
      Lease lease = volumes.liveLease(vol);
      SnapshotRecord rec;
      if (lease != null) {
        gateways.snapshot(lease.ownerAddress(), volumeId, id);
        rec = catalog.getSnapshot(id).orElseThrow(() -> new VolumeError(VolumeError.Reason.UNAVAILABLE,
            "gateway " + lease.ownerAddress() + " reported snapshot " + id + " done but the store has none"));
      } else {
        try {
          rec = catalog.snapshot(volumeId, id);
        } catch (StoreException e) {
          if (e.kind() != StoreException.Kind.CONFLICT) {
            throw e;
          }
          var now = catalog.getSnapshot(id);
          if (now.isPresent()) {
            return sameSource(now.get(), name, volumeId);
          }
          throw new VolumeError(VolumeError.Reason.PENDING, "volume " + volumeId
              + " was opened by a gateway while snapshotting; retry (" + e.getMessage() + ")");
        }
      }
      log.info("snapshot {}: cut from volume {} at epoch {} ({} bytes) for name '{}'{}", id, volumeId, rec.epoch(),
          rec.sizeBytes(), name, lease == null ? "" : " through gateway " + lease.ownerId());
      return rec;
    }
  }

  private static SnapshotRecord sameSource(SnapshotRecord s, String name, String volumeId) {
    if (!s.volumeId().equals(volumeId)) {
      throw new VolumeError(VolumeError.Reason.ALREADY_EXISTS, "snapshot '" + name + "' exists for volume "
          + s.volumeId() + ", not " + volumeId);
    }
    return s;
  }

  /** Deletes a snapshot; OK when already gone. Clones of it stay readable. */
  public void delete(String snapshotId) throws IOException {
    if (!VolumeManager.plausibleId(snapshotId)) {
      return;
    }
    try (var lock = volumes.locks().acquire("snapshot:" + snapshotId)) {
      boolean live = catalog.getSnapshot(snapshotId).isPresent();
      // Also when not live: finishes a delete a crash interrupted (the store's delete is idempotent).
      catalog.deleteSnapshot(snapshotId);
      if (live) {
        log.info("snapshot {}: deleted", snapshotId);
      }
    }
  }

  /** A live snapshot, or empty. */
  public Optional<SnapshotRecord> get(String snapshotId) throws IOException {
    return VolumeManager.plausibleId(snapshotId) ? catalog.getSnapshot(snapshotId) : Optional.empty();
  }

  /**
   * Lists snapshots. With {@code snapshotId}: that one (if it exists and matches {@code sourceVolumeId}) or nothing.
   * Otherwise one page of all snapshots or of one volume's; {@code maxEntries} 0 means all. Unknown ids give an empty
   * list, never an error; a foreign token is BAD_TOKEN.
   */
  public Page<SnapshotRecord> list(@Nullable String snapshotId, @Nullable String sourceVolumeId, int maxEntries,
      String token) throws IOException {
    if (maxEntries < 0) {
      throw VolumeError.invalid("max_entries must not be negative");
    }
    String storeToken = PageToken.unwrap("snapshots", token);
    if (snapshotId != null) {
      var s = get(snapshotId);
      if (s.isEmpty() || (sourceVolumeId != null && !s.get().volumeId().equals(sourceVolumeId))) {
        return new Page<>(List.of(), null);
      }
      return new Page<>(List.of(s.get()), null);
    }
    if (sourceVolumeId != null && !VolumeManager.plausibleId(sourceVolumeId)) {
      return new Page<>(List.of(), null);
    }
    var all = new java.util.ArrayList<SnapshotRecord>();
    String next = storeToken;
    for (int pages = 0; pages < 100_000; pages++) {
      Page<SnapshotRecord> page;
      try {
        page = catalog.listSnapshots(sourceVolumeId, maxEntries > 0 ? maxEntries - all.size() : 1000, next);
      } catch (StoreException e) {
        if (e.kind() == StoreException.Kind.NOT_FOUND) {
          return new Page<>(List.of(), null);
        }
        throw e;
      } catch (IllegalArgumentException e) {
        throw new VolumeError(VolumeError.Reason.BAD_TOKEN, "starting_token is no longer valid (" + e.getMessage()
            + "); restart the listing with an empty token");
      }
      all.addAll(page.items());
      next = page.nextToken();
      if (next == null || (maxEntries > 0 && all.size() >= maxEntries)) {
        break;
      }
    }
    return new Page<>(all, next == null ? null : PageToken.wrap("snapshots", next));
  }
}
