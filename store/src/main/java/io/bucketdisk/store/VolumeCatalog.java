package io.bucketdisk.store;

import io.bucketdisk.store.layout.SnapshotRecord;
import io.bucketdisk.store.layout.VolumeManifest;
import io.bucketdisk.store.object.ObjectStore;
import java.io.IOException;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The volumes, snapshots and clones in one bucket/prefix, and the door to their data ({@link #open}). This is the
 * controller's API (create, delete, expand, snapshot, clone, publish) and the gateway's (open a volume as a
 * {@link ChunkStore}).
 *
 * <p><b>Contract.</b> Thread safe and stateless apart from the object store: any number of catalogs in any number of
 * processes may work on the same bucket; every manifest change is a read-modify-write with {@code If-Match}, retried
 * on conflict, so concurrent changes never get lost. All calls are idempotent the way CSI needs: creating what exists
 * with the same parameters returns it, deleting what is gone succeeds.
 *
 * <p><b>Errors.</b> {@link StoreException} with {@link StoreException.Kind#NOT_FOUND} (no such volume or snapshot),
 * {@link StoreException.Kind#CONFLICT} (exists with other parameters, lease held by another owner, volume in use),
 * {@link StoreException.Kind#TRANSIENT} (store unavailable after retries) or {@link StoreException.Kind#PERMANENT};
 * {@link IllegalArgumentException} for invalid ids or sizes, with a one-line message.
 *
 * <p><b>Deleting with dependents.</b> Deleting a volume that has snapshots, or a snapshot that clones read through,
 * never breaks the dependents: the deleted item disappears from {@link #get}, {@link #list} and {@link
 * #getSnapshot}, its id cannot be reused, and its chunks stay until the last dependent is deleted, when everything
 * is removed (cascading up the parent chain).
 *
 * <p><b>Leases.</b> One writer per volume. {@link #open} with {@code readOnly == false} acquires the lease and renews
 * it in the background every third of the lease duration; a handle that could not renew within the duration (on its
 * own monotonic clock, counted from when it sent the last successful renewal) refuses writes from then on. Another
 * owner takes over only after the lease was released or its expiry plus the clock-skew allowance passed.
 */
public final class VolumeCatalog implements AutoCloseable {

  private final ObjectStore store;
  private final CatalogOptions options;
  private final boolean ownsStore;

  /** A catalog over {@code store}; the caller keeps ownership of the store. */
  public VolumeCatalog(ObjectStore store, CatalogOptions options) {
    this(store, options, false);
  }

  private VolumeCatalog(ObjectStore store, CatalogOptions options, boolean ownsStore) {
    this.store = store;
    this.options = options;
    this.ownsStore = ownsStore;
  }

  /**
   * Opens the store named by {@code url} ({@code file:///dir} or {@code s3://bucket/prefix?...}, see {@link
   * io.bucketdisk.store.object.ObjectStores#open}) and a catalog over it that closes the store when closed.
   */
  public static VolumeCatalog open(java.net.URI url, CatalogOptions options) throws StoreException {
    return new VolumeCatalog(io.bucketdisk.store.object.ObjectStores.open(url, options.metrics()), options, true);
  }

  public ObjectStore objectStore() {
    return store;
  }

  public CatalogOptions options() {
    return options;
  }

  /**
   * Creates an empty volume. Idempotent: if {@code spec.id()} exists with the same size and chunk size it is
   * returned; with other parameters, CONFLICT. The manifest is created with {@code If-None-Match}, so two racing
   * creators get the same volume.
   */
  public VolumeManifest create(VolumeSpec spec) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /**
   * Creates a clone of snapshot {@code snapshotId} (no data copied: it reads through to the snapshot). {@code
   * spec.sizeBytes()} must be at least the snapshot's size; the chunk size is the snapshot's (the spec's is ignored).
   * Idempotent as {@link #create}; NOT_FOUND when the snapshot does not exist.
   */
  public VolumeManifest createFromSnapshot(VolumeSpec spec, String snapshotId) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /**
   * Creates a clone of volume {@code sourceVolumeId} as it is now: takes a hidden snapshot of the source and clones
   * that. The source's data must be stored (CONFLICT when another owner holds the source's lease: ask that gateway to
   * snapshot, then use {@link #createFromSnapshot}).
   */
  public VolumeManifest createFromVolume(VolumeSpec spec, String sourceVolumeId) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /** The manifest of a live volume, or empty (also for deleted ones kept for their dependents). */
  public Optional<VolumeManifest> get(String volumeId) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /** One page of live volumes in id order; {@code token} from the previous page or null. */
  public Page<VolumeManifest> list(int maxEntries, @Nullable String token) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /**
   * Deletes a volume and every object it owns (paged LIST, batched DELETE). Idempotent. CONFLICT while another owner
   * holds a live lease. When snapshots of it exist or clones read through it, it is only hidden (see the class
   * note).
   */
  public void delete(String volumeId) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /**
   * Grows a volume to {@code newSizeBytes} (no-op when already at least that big; shrinking is refused with
   * IllegalArgumentException). An open handle sees the new size after {@link ChunkStore#refresh()}.
   */
  public VolumeManifest resize(String volumeId, long newSizeBytes) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /**
   * Takes snapshot {@code snapshotId} of a volume nobody writes to (no live lease): records the epoch and bumps it,
   * O(1). Idempotent for the same volume; CONFLICT when the id is used by another volume's snapshot, or another owner
   * holds the lease (then the owner must snapshot through its {@link ChunkStore#snapshot}).
   */
  public SnapshotRecord snapshot(String volumeId, String snapshotId) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /** A live snapshot, or empty. */
  public Optional<SnapshotRecord> getSnapshot(String snapshotId) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /** One page of live snapshots in id order, of one volume or (volumeId null) of all. */
  public Page<SnapshotRecord> listSnapshots(@Nullable String volumeId, int maxEntries, @Nullable String token)
      throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /** Deletes a snapshot and the chunk versions only it needed. Idempotent. Clones of it stay readable. */
  public void deleteSnapshot(String snapshotId) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /**
   * Acquires (or renews, when {@code owner} holds it) the lease of a volume for {@link CatalogOptions#leaseDuration}.
   * CONFLICT naming the holder when another owner's lease is live.
   */
  public VolumeManifest acquireLease(String volumeId, LeaseOwner owner) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /** Releases the lease if {@code ownerId} holds it; no-op otherwise. */
  public void releaseLease(String volumeId, String ownerId) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /**
   * Records that the volume is published to {@code nodeId} (CSI ControllerPublish). Idempotent for the same mode;
   * CONFLICT when it is already published writable to another node and this is writable too (single writer), or
   * when the same node has it with the other mode.
   */
  public VolumeManifest publish(String volumeId, String nodeId, boolean readOnly) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /** Removes the publication to {@code nodeId}; no-op when absent or the volume is gone. */
  public void unpublish(String volumeId, String nodeId) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /**
   * Opens a volume's data. Writable ({@code readOnly == false}): acquires the lease for {@code owner} (CONFLICT when
   * another owner holds it) and renews it until {@link ChunkStore#close()}, which releases it. Read-only: no lease.
   * Builds the chunk index with one paged LIST per layer (the volume and each parent).
   */
  public ChunkStore open(String volumeId, LeaseOwner owner, boolean readOnly) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /** Opens a snapshot's data read-only; its {@link ChunkStore#volumeId()} is the snapshot id. */
  public ChunkStore openSnapshot(String snapshotId) throws IOException {
    throw new UnsupportedOperationException("not yet");
  }

  /** Closes the object store if this catalog opened it. Open {@link ChunkStore}s must be closed first. */
  @Override
  public void close() {
    if (ownsStore) {
      store.close();
    }
  }
}
