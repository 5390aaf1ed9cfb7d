package io.bucketdisk.engine.volume;

import io.bucketdisk.store.ChunkStore;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.Page;
import io.bucketdisk.store.StoreException;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.layout.SnapshotRecord;
import io.bucketdisk.store.layout.VolumeManifest;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The volumes and snapshots of a {@link VolumeCatalog} as export names: volume {@code id} (writable, opened with
 * this gateway's lease, adopting the write log the previous writer left: the cache serves and folds it), snapshot {@code <volume>@<snapshot>} (read-only, no lease), and {@code <volume>@} (the
 * volume's current data read-only, no lease: what every node of a MULTI_NODE_READER_ONLY volume opens on its own
 * gateway; refused while any gateway holds the writer's lease, since that image would not be consistent). Thread safe.
 */
public final class CatalogVolumeSource implements VolumeSource {
  /** Separates a volume id from a snapshot id in an export name. */
  public static final char SNAPSHOT_SEPARATOR = '@';
  private static final int PAGE = 1000;

  private final VolumeCatalog catalog;
  private final LeaseOwner owner;

  public CatalogVolumeSource(VolumeCatalog catalog, LeaseOwner owner) {
    this.catalog = catalog;
    this.owner = owner;
  }

  public VolumeCatalog catalog() {
    return catalog;
  }

  @Override
  public List<Listing> list() throws IOException {
    List<Listing> out = new ArrayList<>();
    @Nullable String token = null;
    for (int pages = 0; pages < 100_000; pages++) {
      Page<VolumeManifest> page = catalog.list(PAGE, token);
      for (VolumeManifest m : page.items()) {
        out.add(new Listing(m.id(), m.sizeBytes(), false));
      }
      token = page.nextToken();
      if (token == null) {
        break;
      }
    }
    token = null;
    for (int pages = 0; pages < 100_000; pages++) {
      Page<SnapshotRecord> page = catalog.listSnapshots(null, PAGE, token);
      for (SnapshotRecord s : page.items()) {
        out.add(new Listing(s.volumeId() + SNAPSHOT_SEPARATOR + s.id(), s.sizeBytes(), true));
      }
      token = page.nextToken();
      if (token == null) {
        break;
      }
    }
    return out;
  }

  @Override
  public Optional<ChunkStore> open(String name) throws IOException {
    int at = name.indexOf(SNAPSHOT_SEPARATOR);
    if (at >= 0) {
      String volume = name.substring(0, at);
      String snapshot = name.substring(at + 1);
      if (snapshot.isEmpty()) {
        Optional<VolumeManifest> m = catalog.get(volume);
        if (m.isEmpty()) {
          return Optional.empty();
        }
        var lease = m.get().lease();
        if (lease != null && lease.mayBeHeldAt(System.currentTimeMillis(), catalog.options().clockSkew())) {
          throw new StoreException(StoreException.Kind.CONFLICT, "volume " + volume + " is being written by gateway "
              + lease.ownerId() + "; a read-only view needs an image nobody writes (unpublish the writer, or read a "
              + "snapshot)");
        }
        return Optional.of(catalog.open(volume, owner, true));
      }
      Optional<SnapshotRecord> rec = catalog.getSnapshot(snapshot);
      if (rec.isEmpty() || !rec.get().volumeId().equals(volume)) {
        return Optional.empty();
      }
      return Optional.of(catalog.openSnapshot(snapshot));
    }
    if (catalog.get(name).isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(catalog.openAdoptingLog(name, owner));
  }
}
