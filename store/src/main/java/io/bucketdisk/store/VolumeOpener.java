package io.bucketdisk.store;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.layout.Lease;
import io.bucketdisk.store.layout.ParentRef;
import io.bucketdisk.store.layout.SnapshotRecord;
import io.bucketdisk.store.layout.VolumeManifest;
import io.bucketdisk.store.layout.VolumeManifest.State;
import io.bucketdisk.store.object.ObjectStore;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens the data of a volume or a snapshot as a {@link VolumeChunkStore} over its read-through chain of layers. A
 * writable open takes the lease first and gives it back when the handle cannot be built; the handle then renews it
 * and folds the write log into the chunk objects ({@link #open}) or adopts it as it is ({@link #openAdoptingLog}).
 * A reader that sees only chunk objects gets the log of a writer that is gone folded in first. Thread safe; the
 * handles belong to the caller, who must close them.
 */
final class VolumeOpener {
  // catalog events log under the catalog's name, whichever part does the work
  private static final Logger log = LoggerFactory.getLogger(VolumeCatalog.class);
  private static final int MAX_LAYERS = 200;

  private final VolumeCatalog catalog;
  private final ObjectStore store;
  private final CatalogOptions options;
  private final Manifests manifests;
  private final Leases leases;

  /** {@code catalog} is only handed to the handles it opens, which renew their lease and snapshot through it. */
  VolumeOpener(VolumeCatalog catalog, ObjectStore store, CatalogOptions options, Manifests manifests, Leases leases) {
    this.catalog = catalog;
    this.store = store;
    this.options = options;
    this.manifests = manifests;
    this.leases = leases;
  }

  /** What a writable open does with the log it finds. */
  @FunctionalInterface
  private interface AtOpen {
    void take(VolumeChunkStore cs) throws IOException;
  }

  /** See {@link VolumeCatalog#open(String, LeaseOwner, boolean)}. */
  ChunkStore open(String volumeId, LeaseOwner owner, boolean readOnly) throws IOException {
    return readOnly ? openReadOnly(volumeId, owner) : openWritable(volumeId, owner, VolumeChunkStore::replayLog);
  }

  /** See {@link VolumeCatalog#openAdoptingLog}. */
  ChunkStore openAdoptingLog(String volumeId, LeaseOwner owner) throws IOException {
    return openWritable(volumeId, owner, VolumeChunkStore::adoptLog);
  }

  private ChunkStore openReadOnly(String volumeId, LeaseOwner owner) throws IOException {
    VolumeManifest m = ready(volumeId);
    foldLeftoverLog(m);
    VolumeChunkStore cs = new VolumeChunkStore(catalog, volumeId, m, layers(volumeId, Long.MAX_VALUE, m.parent()),
        null, m.sizeBytes(), false);
    cs.load();
    log.info("volume {}: opened read-only by {} ({} chunks stored)", volumeId, owner.id(), cs.storedChunks());
    return cs;
  }

  private VolumeChunkStore openWritable(String volumeId, LeaseOwner owner, AtOpen logAtOpen) throws IOException {
    ready(volumeId);
    long sent = System.nanoTime();
    VolumeManifest m = leases.acquire(volumeId, owner);
    VolumeChunkStore cs = new VolumeChunkStore(catalog, volumeId, m, layers(volumeId, Long.MAX_VALUE, m.parent()),
        owner, m.sizeBytes(), false);
    try {
      cs.load();
    } catch (IOException | RuntimeException e) {
      leases.release(volumeId, owner.id());
      throw e;
    }
    cs.startRenewal(sent);
    try {
      logAtOpen.take(cs);
    } catch (IOException | RuntimeException e) {
      cs.close();
      throw e;
    }
    log.info("volume {}: opened writable by {} ({} chunks stored, {} log segments adopted)", volumeId, owner.id(),
        cs.storedChunks(), cs.adoptedSegments());
    return cs;
  }

  private VolumeManifest ready(String volumeId) throws IOException {
    Layout.checkId("volume", volumeId);
    return manifests.read(volumeId).map(Manifests.Versioned::manifest)
        .filter(x -> x.state() == State.READY)
        .orElseThrow(() -> new StoreException(Kind.NOT_FOUND, "volume " + volumeId + " does not exist"));
  }

  /**
   * A log left by a writer that is gone (no live lease) is folded into the chunk objects before a reader that only
   * sees chunk objects (a read-only handle, an offline snapshot) looks at them: a writable open under a lease of its
   * own replays it and empties it. With a live writer the reader sees what that writer folded so far.
   */
  void foldLeftoverLog(VolumeManifest m) throws IOException {
    if (new VolumeLog(store, m.id(), options.metrics()).isEmpty()) {
      return;
    }
    Lease l = m.lease();
    if (l != null && l.mayBeHeldAt(manifests.millis(), options.clockSkew())) {
      log.info("volume {}: its writer {} has log segments not yet folded; a reader sees the chunks only", m.id(),
          l.ownerId());
      return;
    }
    log.info("volume {}: folding the write log its last writer left", m.id());
    openWritable(m.id(), LeaseOwner.instance("log-replay", "", java.util.Set.of()), VolumeChunkStore::replayLog)
        .close();
  }

  /** Opens snapshot {@code snapshotId}, recorded as {@code rec}, read-only under the snapshot's id. */
  ChunkStore openSnapshot(String snapshotId, SnapshotRecord rec) throws IOException {
    VolumeManifest m = manifests.require(rec.volumeId());
    VolumeChunkStore cs = new VolumeChunkStore(catalog, snapshotId, m, layers(rec.volumeId(), rec.epoch(), m.parent()),
        null, rec.sizeBytes(), true);
    cs.load();
    return cs;
  }

  /** The read-through chain of a volume: itself up to {@code maxEpoch}, then each parent at its snapshot epoch. */
  private List<VolumeChunkStore.Layer> layers(String volumeId, long maxEpoch, @Nullable ParentRef parent)
      throws IOException {
    List<VolumeChunkStore.Layer> layers = new ArrayList<>();
    layers.add(new VolumeChunkStore.Layer(volumeId, maxEpoch));
    ParentRef p = parent;
    while (p != null) {
      if (layers.size() >= MAX_LAYERS) {
        throw new StoreException(Kind.PERMANENT, "volume " + volumeId + " has more than " + MAX_LAYERS
            + " clone layers");
      }
      layers.add(new VolumeChunkStore.Layer(p.volumeId(), p.epoch()));
      String id = p.volumeId();
      Optional<Manifests.Versioned> pm = manifests.read(id);
      if (pm.isEmpty()) {
        throw new StoreException(Kind.PERMANENT, "volume " + volumeId + ": parent volume " + id + " is missing");
      }
      p = pm.get().manifest().parent();
    }
    return layers;
  }
}
