package io.bucketdisk.store;

import io.bucketdisk.store.Manifests.Versioned;
import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.layout.Lease;
import io.bucketdisk.store.layout.ParentRef;
import io.bucketdisk.store.layout.SnapshotPin;
import io.bucketdisk.store.layout.SnapshotRecord;
import io.bucketdisk.store.layout.VolumeManifest;
import io.bucketdisk.store.layout.VolumeManifest.State;
import io.bucketdisk.store.object.ListPage;
import io.bucketdisk.store.object.ObjectInfo;
import io.bucketdisk.store.object.ObjectStore;
import io.bucketdisk.store.object.ObjectStoreException;
import io.bucketdisk.store.object.ObjectStores;
import io.bucketdisk.store.object.WriteCondition;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
  /** Manifest GETs in flight at once while listing volumes. */
  private static final int LIST_PARALLELISM = 16;

  private static final Logger log = LoggerFactory.getLogger(VolumeCatalog.class);
  private static final int MIN_CHUNK = 64 << 10;
  private static final int MAX_CHUNK = 64 << 20;
  private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

  /** A snapshot just taken and the manifest after it. */
  record Taken(SnapshotRecord record, VolumeManifest manifest) {}

  private final ObjectStore store;
  private final CatalogOptions options;
  private final boolean ownsStore;
  private final Manifests manifests;
  private final GarbageCollector garbage;
  private final Leases leases;
  private final Publications publications;
  private final VolumeOpener opener;
  private final Snapshots snapshots;

  /** A catalog over {@code store}; the caller keeps ownership of the store. */
  public VolumeCatalog(ObjectStore store, CatalogOptions options) {
    this(store, options, false);
  }

  private VolumeCatalog(ObjectStore store, CatalogOptions options, boolean ownsStore) {
    this.store = store;
    this.options = options;
    this.ownsStore = ownsStore;
    this.manifests = new Manifests(store, options.clock());
    this.garbage = new GarbageCollector(store, manifests);
    this.leases = new Leases(manifests, options);
    this.publications = new Publications(manifests);
    this.opener = new VolumeOpener(this, store, options, manifests, leases);
    this.snapshots = new Snapshots(store, manifests, garbage, opener);
  }

  /**
   * Opens the store named by {@code url} ({@code file:///dir} or {@code s3://bucket/prefix?...}, see {@link
   * ObjectStores#open}) and a catalog over it that closes the store when closed.
   */
  public static VolumeCatalog open(URI url, CatalogOptions options) throws StoreException {
    return new VolumeCatalog(ObjectStores.open(url, options.metrics()), options, true);
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
    validate(spec);
    return createManifest(spec.id(), spec.sizeBytes(), spec.chunkSize(), spec.parameters(), null);
  }

  /**
   * Creates a clone of snapshot {@code snapshotId} (no data copied: it reads through to the snapshot). {@code
   * spec.sizeBytes()} must be at least the snapshot's size; the chunk size is the snapshot's (the spec's is ignored).
   * Idempotent as {@link #create}; NOT_FOUND when the snapshot does not exist.
   */
  public VolumeManifest createFromSnapshot(VolumeSpec spec, String snapshotId) throws IOException {
    Layout.checkId("volume", spec.id());
    SnapshotRecord rec = snapshots.require(snapshotId);
    if (spec.sizeBytes() < rec.sizeBytes()) {
      throw new IllegalArgumentException("volume size " + spec.sizeBytes() + " is smaller than snapshot "
          + snapshotId + " (" + rec.sizeBytes() + " bytes)");
    }
    ParentRef parent = new ParentRef(rec.volumeId(), snapshotId, rec.epoch());
    Optional<Versioned> existing = manifests.read(spec.id());
    if (existing.isPresent()) {
      return checkSame(existing.get().manifest(), spec.sizeBytes(), rec.chunkSize(), parent);
    }
    String marker = Layout.dependentKey(rec.volumeId(), snapshotId, spec.id());
    store.put(marker, EMPTY);
    // deleteSnapshot marks the pin deleted before it looks for markers: seeing the pin live after our marker is
    // visible means the snapshot's chunks stay
    Optional<Versioned> source = manifests.read(rec.volumeId());
    SnapshotPin pin = source.map(v -> v.manifest().snapshots().get(snapshotId)).orElse(null);
    if (pin == null || pin.deleted()) {
      store.delete(marker);
      throw new StoreException(Kind.NOT_FOUND, "snapshot " + snapshotId + " is being deleted");
    }
    try {
      return createManifest(spec.id(), spec.sizeBytes(), rec.chunkSize(), spec.parameters(), parent);
    } catch (StoreException e) {
      Optional<Versioned> now = manifests.read(spec.id());
      if (now.isEmpty() || !parent.equals(now.get().manifest().parent())) {
        store.delete(marker);
      }
      throw e;
    }
  }

  /**
   * Creates a clone of volume {@code sourceVolumeId} as it is now: takes a hidden snapshot of the source and clones
   * that. The source's data must be stored (CONFLICT when another owner holds the source's lease: ask that gateway to
   * snapshot, then use {@link #createFromSnapshot}).
   */
  public VolumeManifest createFromVolume(VolumeSpec spec, String sourceVolumeId) throws IOException {
    Layout.checkId("volume", spec.id());
    Optional<Versioned> existing = manifests.read(spec.id());
    if (existing.isPresent()) {
      VolumeManifest m = existing.get().manifest();
      if (m.parent() == null || !m.parent().volumeId().equals(sourceVolumeId)) {
        throw new StoreException(Kind.CONFLICT, "volume " + spec.id() + " exists and is not a clone of "
            + sourceVolumeId);
      }
      return checkSame(m, spec.sizeBytes(), m.chunkSize(), m.parent());
    }
    String hidden = "clone-src-" + spec.id();
    snapshot(sourceVolumeId, hidden);
    VolumeManifest clone = createFromSnapshot(spec, hidden);
    deleteSnapshot(hidden);
    return clone;
  }

  /** The manifest of a live volume, or empty (also for deleted ones kept for their dependents). */
  public Optional<VolumeManifest> get(String volumeId) throws IOException {
    if (!Layout.ID.matcher(volumeId).matches()) {
      return Optional.empty();
    }
    return manifests.read(volumeId).map(Versioned::manifest).filter(m -> m.state() == State.READY);
  }

  /**
   * One page of live volumes in id order; {@code token} from the previous page or null. A page may hold fewer than
   * {@code maxEntries} (deleted volumes are skipped). IllegalArgumentException for a token the store rejects.
   */
  public Page<VolumeManifest> list(int maxEntries, @Nullable String token) throws IOException {
    ListPage page = CatalogListing.page(store, Layout.MANIFESTS, token, maxEntries);
    // One GET per manifest: run them in parallel (bounded), keeping the LIST order.
    var reads = new ArrayList<java.util.concurrent.Future<Optional<Versioned>>>(page.objects().size());
    var permits = new java.util.concurrent.Semaphore(LIST_PARALLELISM);
    try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      for (ObjectInfo o : page.objects()) {
        String id = o.key().substring(Layout.MANIFESTS.length());
        reads.add(pool.submit(() -> {
          permits.acquire();
          try {
            return manifests.read(id);
          } finally {
            permits.release();
          }
        }));
      }
      List<VolumeManifest> out = new ArrayList<>(reads.size());
      for (var read : reads) {
        awaitManifest(read).map(Versioned::manifest).filter(m -> m.state() == State.READY).ifPresent(out::add);
      }
      return new Page<>(out, page.nextToken());
    }
  }

  private static Optional<Versioned> awaitManifest(java.util.concurrent.Future<Optional<Versioned>> read)
      throws IOException {
    try {
      return read.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted listing volumes");
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw new StoreException(Kind.PERMANENT, "listing volumes: " + e.getCause(), e.getCause());
    }
  }

  /**
   * Deletes a volume and every object it owns (paged LIST, batched DELETE). Idempotent. CONFLICT while another owner
   * holds a live lease. When snapshots of it exist or clones read through it, it is only hidden (see the class
   * note).
   */
  public void delete(String volumeId) throws IOException {
    if (!Layout.ID.matcher(volumeId).matches()) {
      return;
    }
    VolumeManifest after;
    try {
      after = manifests.update(volumeId, cur -> {
        if (cur.state() != State.READY) {
          return cur;
        }
        Lease l = cur.lease();
        if (l != null && !l.expiredAt(manifests.millis())) {
          throw new StoreException(Kind.CONFLICT, "volume " + volumeId + " is open on gateway " + l.ownerId() + " ("
              + l.ownerAddress() + "); close it there first");
        }
        return cur.withLease(null).withState(cur.snapshots().isEmpty() ? State.DELETING : State.DELETED);
      });
    } catch (StoreException e) {
      if (e.kind() == Kind.NOT_FOUND) {
        return;
      }
      throw e;
    }
    if (after.state() == State.DELETED && !after.snapshots().isEmpty()) {
      log.info("volume {}: deleted; kept hidden for {} snapshot(s)", volumeId, after.snapshots().size());
      garbage.collect(volumeId);
      return;
    }
    garbage.purge(volumeId);
  }

  /**
   * Grows a volume to {@code newSizeBytes} (no-op when already at least that big; shrinking is refused with
   * IllegalArgumentException). An open handle sees the new size after {@link ChunkStore#refresh()}.
   */
  public VolumeManifest resize(String volumeId, long newSizeBytes) throws IOException {
    Layout.checkId("volume", volumeId);
    VolumeManifest m = manifests.update(volumeId, cur -> {
      Manifests.requireReady(cur);
      if (newSizeBytes < cur.sizeBytes()) {
        throw new IllegalArgumentException("volume " + volumeId + " is " + cur.sizeBytes()
            + " bytes; shrinking to " + newSizeBytes + " is not supported");
      }
      return newSizeBytes == cur.sizeBytes() ? cur : cur.withSize(newSizeBytes);
    });
    log.info("volume {}: size {} bytes", volumeId, m.sizeBytes());
    return m;
  }

  /**
   * Takes snapshot {@code snapshotId} of a volume nobody writes to (no live lease): records the epoch and bumps it,
   * O(1). Idempotent for the same volume; CONFLICT when the id is used by another volume's snapshot, or another owner
   * holds the lease (then the owner must snapshot through its {@link ChunkStore#snapshot}).
   */
  public SnapshotRecord snapshot(String volumeId, String snapshotId) throws IOException {
    return takeSnapshot(volumeId, snapshotId, null).record();
  }

  Taken takeSnapshot(String volumeId, String snapshotId, @Nullable String ownerId) throws IOException {
    return snapshots.take(volumeId, snapshotId, ownerId);
  }

  /** A live snapshot, or empty. */
  public Optional<SnapshotRecord> getSnapshot(String snapshotId) throws IOException {
    return snapshots.get(snapshotId);
  }

  /** One page of live snapshots in id order, of one volume or (volumeId null) of all. */
  public Page<SnapshotRecord> listSnapshots(@Nullable String volumeId, int maxEntries, @Nullable String token)
      throws IOException {
    return snapshots.list(volumeId, maxEntries, token);
  }

  /** Deletes a snapshot and the chunk versions only it needed. Idempotent. Clones of it stay readable. */
  public void deleteSnapshot(String snapshotId) throws IOException {
    snapshots.delete(snapshotId);
  }

  /**
   * Acquires (or renews, when {@code owner} holds it) the lease of a volume for {@link CatalogOptions#leaseDuration}.
   * CONFLICT naming the holder when another owner's lease is live (until its expiry plus the clock-skew allowance),
   * unless {@code owner} {@link LeaseOwner#replaces replaces} that holder, whose lease it then takes over at once.
   */
  public VolumeManifest acquireLease(String volumeId, LeaseOwner owner) throws IOException {
    return leases.acquire(volumeId, owner);
  }

  VolumeManifest renewLease(String volumeId, LeaseOwner owner) throws IOException {
    return leases.renew(volumeId, owner);
  }

  /** Releases the lease if {@code ownerId} holds it; no-op otherwise. */
  public void releaseLease(String volumeId, String ownerId) throws IOException {
    leases.release(volumeId, ownerId);
  }

  /**
   * Records that the volume is published to {@code nodeId} (CSI ControllerPublish). Idempotent for the same mode;
   * CONFLICT when the same node has it with the other mode. The access-mode rules are the caller's; see the
   * four-argument form for a conditional single-writer check.
   */
  public VolumeManifest publish(String volumeId, String nodeId, boolean readOnly) throws IOException {
    return publish(volumeId, nodeId, readOnly, false);
  }

  /**
   * As {@link #publish(String, String, boolean)}; with {@code exclusiveWriter}, a writable publication is refused
   * (CONFLICT) while another node holds a writable one, checked inside the conditional manifest update.
   */
  public VolumeManifest publish(String volumeId, String nodeId, boolean readOnly, boolean exclusiveWriter)
      throws IOException {
    return publications.publish(volumeId, nodeId, readOnly, exclusiveWriter);
  }

  /** Removes the publication to {@code nodeId}; no-op when absent or the volume is gone. */
  public void unpublish(String volumeId, String nodeId) throws IOException {
    publications.unpublish(volumeId, nodeId);
  }

  /**
   * Opens a volume's data. Writable ({@code readOnly == false}): acquires the lease for {@code owner} (CONFLICT when
   * another owner holds it) and renews it until {@link ChunkStore#close()}, which releases it; then folds the write
   * log a previous writer left into the chunk objects (a GET and a PUT per chunk it names) and deletes it, so the
   * handle sees chunk objects only. This is the default for every user of the store but the gateway's cache (see
   * {@link #openAdoptingLog}). Read-only: no lease; a log whose writer is gone is folded first (under a lease of its
   * own), a live writer's log is not seen. Builds the chunk index with one paged LIST per layer (the volume and each
   * parent).
   */
  public ChunkStore open(String volumeId, LeaseOwner owner, boolean readOnly) throws IOException {
    return opener.open(volumeId, owner, readOnly);
  }

  /**
   * Opens a volume's data writable like {@link #open}, but keeps the write log a previous writer left instead of
   * folding it: the handle lists it in {@link ChunkStore#takeAdoptedLog()} (reading only the segments' directories) and
   * the caller serves and folds those extents itself. For the gateway's cache, which knows how; a caller that reads
   * chunks without the log must use {@link #open}. A damaged segment fails the open (PERMANENT), and the lease is
   * released.
   */
  public ChunkStore openAdoptingLog(String volumeId, LeaseOwner owner) throws IOException {
    return opener.openAdoptingLog(volumeId, owner);
  }

  /** Opens a snapshot's data read-only; its {@link ChunkStore#volumeId()} is the snapshot id. */
  public ChunkStore openSnapshot(String snapshotId) throws IOException {
    return opener.openSnapshot(snapshotId, snapshots.require(snapshotId));
  }

  /** Closes the object store if this catalog opened it. Open {@link ChunkStore}s must be closed first. */
  @Override
  public void close() {
    if (ownsStore) {
      store.close();
    }
  }

  // ---- internals

  VolumeManifest requireManifest(String volumeId) throws StoreException {
    return manifests.require(volumeId);
  }

  private VolumeManifest createManifest(String id, long size, int chunkSize, Map<String, String> parameters,
      @Nullable ParentRef parent) throws IOException {
    VolumeManifest m = new VolumeManifest(VolumeManifest.FORMAT, id, size, chunkSize, 1, parent, null, State.READY,
        parameters, Map.of(), Map.of(), manifests.millis(), 0);
    try {
      store.put(Layout.manifestKey(id), Codec.encode(m), WriteCondition.ifNoneMatch());
      log.info("volume {}: created, {} bytes, chunk {} bytes{}", id, size, chunkSize,
          parent == null ? "" : ", clone of " + parent.volumeId() + "@" + parent.snapshotId());
      return m;
    } catch (ObjectStoreException e) {
      if (!e.isPrecondition()) {
        throw e;
      }
      VolumeManifest existing = manifests.read(id).map(Versioned::manifest).orElseThrow(
          () -> new StoreException(Kind.TRANSIENT, "volume " + id + " vanished while being created; retry"));
      return checkSame(existing, size, chunkSize, parent);
    }
  }

  private static VolumeManifest checkSame(VolumeManifest existing, long size, int chunkSize,
      @Nullable ParentRef parent) throws StoreException {
    if (existing.state() != State.READY) {
      throw new StoreException(Kind.CONFLICT, "volume id " + existing.id() + " belongs to a deleted volume still "
          + "kept for its snapshots or clones");
    }
    if (existing.sizeBytes() != size || existing.chunkSize() != chunkSize
        || !java.util.Objects.equals(existing.parent(), parent)) {
      throw new StoreException(Kind.CONFLICT, "volume " + existing.id() + " exists with size "
          + existing.sizeBytes() + ", chunk size " + existing.chunkSize()
          + (existing.parent() == null ? "" : ", parent " + existing.parent().volumeId() + "@"
              + existing.parent().snapshotId()));
    }
    return existing;
  }

  private static void validate(VolumeSpec spec) {
    Layout.checkId("volume", spec.id());
    if (spec.sizeBytes() <= 0) {
      throw new IllegalArgumentException("volume size must be positive, not " + spec.sizeBytes());
    }
    int cs = spec.chunkSize();
    if (Integer.bitCount(cs) != 1 || cs < MIN_CHUNK || cs > MAX_CHUNK) {
      throw new IllegalArgumentException("chunk size " + cs + " must be a power of two between " + MIN_CHUNK
          + " and " + MAX_CHUNK);
    }
  }

  static boolean pinnedBetween(long[] sortedPins, long from, long to) {
    return GarbageCollector.pinnedBetween(sortedPins, from, to);
  }
}
