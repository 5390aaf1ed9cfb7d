package io.bucketdisk.store;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.VolumeCatalog.Taken;
import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.layout.Lease;
import io.bucketdisk.store.layout.SnapshotPin;
import io.bucketdisk.store.layout.SnapshotRecord;
import io.bucketdisk.store.layout.VolumeManifest;
import io.bucketdisk.store.object.ListPage;
import io.bucketdisk.store.object.ObjectData;
import io.bucketdisk.store.object.ObjectInfo;
import io.bucketdisk.store.object.ObjectStore;
import io.bucketdisk.store.object.ObjectStoreException;
import io.bucketdisk.store.object.WriteCondition;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Snapshots: a pin in the volume's manifest (the epoch it keeps readable) plus a record under the snapshot's id,
 * which makes ids unique across volumes. Taking one pins first, then writes the record with {@code If-None-Match};
 * deleting marks the pin deleted, removes the record, and drops the pin once no clone reads through it. Thread safe
 * and idempotent; CONFLICT when the id belongs to another volume's snapshot or another owner holds the lease.
 */
final class Snapshots {
  // catalog events log under the catalog's name, whichever part does the work
  private static final Logger log = LoggerFactory.getLogger(VolumeCatalog.class);

  private final ObjectStore store;
  private final Manifests manifests;
  private final GarbageCollector garbage;
  private final VolumeOpener opener;

  Snapshots(ObjectStore store, Manifests manifests, GarbageCollector garbage, VolumeOpener opener) {
    this.store = store;
    this.manifests = manifests;
    this.garbage = garbage;
    this.opener = opener;
  }

  /**
   * Takes snapshot {@code snapshotId} of a volume: records the epoch and bumps it. With {@code ownerId} null the
   * volume must have no live lease (its leftover log is folded first); otherwise {@code ownerId} must hold it.
   */
  Taken take(String volumeId, String snapshotId, @Nullable String ownerId) throws IOException {
    Layout.checkId("volume", volumeId);
    Layout.checkId("snapshot", snapshotId);
    Optional<SnapshotRecord> existing = get(snapshotId);
    if (existing.isPresent()) {
      if (!existing.get().volumeId().equals(volumeId)) {
        throw new StoreException(Kind.CONFLICT, "snapshot id " + snapshotId + " is taken by a snapshot of volume "
            + existing.get().volumeId());
      }
      return new Taken(existing.get(), manifests.require(volumeId));
    }
    if (ownerId == null) {
      opener.foldLeftoverLog(manifests.require(volumeId));
    }
    VolumeManifest m = manifests.update(volumeId, cur -> {
      Manifests.requireReady(cur);
      if (cur.snapshots().containsKey(snapshotId)) {
        return cur; // an earlier attempt recorded the pin and then failed to write the record
      }
      long now = manifests.millis();
      Lease l = cur.lease();
      if (l != null && !l.expiredAt(now) && !l.ownerId().equals(ownerId)) {
        throw new StoreException(Kind.CONFLICT, "volume " + volumeId + " is open on gateway " + l.ownerId() + " ("
            + l.ownerAddress() + "); snapshot it through that gateway");
      }
      if (cur.epoch() >= Layout.MAX_EPOCH) {
        throw new StoreException(Kind.PERMANENT, "volume " + volumeId + " has used up its snapshot epochs");
      }
      Map<String, SnapshotPin> pins = new HashMap<>(cur.snapshots());
      pins.put(snapshotId, new SnapshotPin(cur.epoch(), now, false));
      return cur.withSnapshots(cur.epoch() + 1, pins);
    });
    SnapshotPin pin = m.snapshots().get(snapshotId);
    SnapshotRecord rec = new SnapshotRecord(SnapshotRecord.FORMAT, snapshotId, volumeId, pin.epoch(), m.sizeBytes(),
        m.chunkSize(), pin.createdAtMillis());
    try {
      store.put(Layout.snapshotKey(snapshotId), Codec.encode(rec), WriteCondition.ifNoneMatch());
    } catch (ObjectStoreException e) {
      if (!e.isPrecondition()) {
        throw e;
      }
      SnapshotRecord other = get(snapshotId).orElseThrow(() -> e);
      if (!other.volumeId().equals(volumeId) || other.epoch() != rec.epoch()) {
        garbage.dropPin(volumeId, snapshotId);
        throw new StoreException(Kind.CONFLICT, "snapshot id " + snapshotId + " was taken concurrently by volume "
            + other.volumeId());
      }
    }
    log.info("volume {}: snapshot {} at epoch {}", volumeId, snapshotId, rec.epoch());
    return new Taken(rec, m);
  }

  /** A live snapshot, or empty. */
  Optional<SnapshotRecord> get(String snapshotId) throws IOException {
    if (!Layout.ID.matcher(snapshotId).matches()) {
      return Optional.empty();
    }
    String key = Layout.snapshotKey(snapshotId);
    Optional<ObjectData> d = store.get(key);
    return d.isEmpty() ? Optional.empty() : Optional.of(Codec.snapshot(key, d.get().bytes()));
  }

  /** A live snapshot; NOT_FOUND when there is none. */
  SnapshotRecord require(String snapshotId) throws IOException {
    return get(snapshotId)
        .orElseThrow(() -> new StoreException(Kind.NOT_FOUND, "snapshot " + snapshotId + " does not exist"));
  }

  /** See {@link VolumeCatalog#listSnapshots}. */
  Page<SnapshotRecord> list(@Nullable String volumeId, int maxEntries, @Nullable String token) throws IOException {
    int max = maxEntries <= 0 ? 1000 : Math.min(maxEntries, 1000);
    if (volumeId == null) {
      ListPage page = CatalogListing.page(store, Layout.SNAPSHOTS, token, max);
      List<SnapshotRecord> out = new ArrayList<>();
      for (ObjectInfo o : page.objects()) {
        get(o.key().substring(Layout.SNAPSHOTS.length())).ifPresent(out::add);
      }
      return new Page<>(out, page.nextToken());
    }
    if (!Layout.ID.matcher(volumeId).matches()) {
      return new Page<>(List.of(), null);
    }
    Optional<Manifests.Versioned> v = manifests.read(volumeId);
    if (v.isEmpty()) {
      return new Page<>(List.of(), null);
    }
    TreeMap<String, SnapshotPin> live = new TreeMap<>();
    v.get().manifest().snapshots().forEach((id, pin) -> {
      if (!pin.deleted() && (token == null || id.compareTo(token) > 0)) {
        live.put(id, pin);
      }
    });
    List<SnapshotRecord> out = new ArrayList<>();
    String last = null;
    for (String id : live.keySet()) {
      if (out.size() >= max) {
        break;
      }
      last = id;
      get(id).ifPresent(out::add);
    }
    return new Page<>(out, last != null && live.lastKey().compareTo(last) > 0 ? last : null);
  }

  /** Deletes a snapshot and the chunk versions only it needed. Idempotent. Clones of it stay readable. */
  void delete(String snapshotId) throws IOException {
    Optional<SnapshotRecord> rec = get(snapshotId);
    if (rec.isEmpty()) {
      return;
    }
    String volumeId = rec.get().volumeId();
    try {
      manifests.update(volumeId, cur -> {
        SnapshotPin pin = cur.snapshots().get(snapshotId);
        if (pin == null || pin.deleted()) {
          return cur;
        }
        Map<String, SnapshotPin> pins = new HashMap<>(cur.snapshots());
        pins.put(snapshotId, new SnapshotPin(pin.epoch(), pin.createdAtMillis(), true));
        return cur.withSnapshots(cur.epoch(), pins);
      });
      if (garbage.hasDependents(volumeId, snapshotId)) {
        log.info("volume {}: snapshot {} deleted; kept hidden for its clones", volumeId, snapshotId);
      } else {
        garbage.dropPin(volumeId, snapshotId);
        log.info("volume {}: snapshot {} deleted", volumeId, snapshotId);
      }
    } catch (StoreException e) {
      if (e.kind() != Kind.NOT_FOUND) {
        throw e;
      }
    }
    store.delete(Layout.snapshotKey(snapshotId));
  }
}
