package io.bucketdisk.store;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.layout.Lease;
import io.bucketdisk.store.layout.ParentRef;
import io.bucketdisk.store.layout.Publication;
import io.bucketdisk.store.layout.SnapshotPin;
import io.bucketdisk.store.layout.SnapshotRecord;
import io.bucketdisk.store.layout.VolumeManifest;
import io.bucketdisk.store.layout.VolumeManifest.State;
import io.bucketdisk.store.object.ListPage;
import io.bucketdisk.store.object.ObjectData;
import io.bucketdisk.store.object.ObjectInfo;
import io.bucketdisk.store.object.ObjectStore;
import io.bucketdisk.store.object.ObjectStoreException;
import io.bucketdisk.store.object.ObjectStores;
import io.bucketdisk.store.object.WriteCondition;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;
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
  private static final int UPDATE_ATTEMPTS = 32;
  private static final int MAX_LAYERS = 200;
  private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);
  /** In-process serialization of manifest updates, per store and volume (see docs/store.md: s3proxy's If-Match). */
  private static final ReentrantLock[] LOCKS = new ReentrantLock[64];

  static {
    for (int i = 0; i < LOCKS.length; i++) {
      LOCKS[i] = new ReentrantLock();
    }
  }

  /** A manifest and the ETag it was read with. */
  record Versioned(VolumeManifest manifest, String etag) {}

  /** A manifest change; returning the argument itself means "nothing to change". */
  interface Change {
    VolumeManifest apply(VolumeManifest current) throws IOException;
  }

  /** A snapshot just taken and the manifest after it. */
  record Taken(SnapshotRecord record, VolumeManifest manifest) {}

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
    SnapshotRecord rec = getSnapshot(snapshotId)
        .orElseThrow(() -> new StoreException(Kind.NOT_FOUND, "snapshot " + snapshotId + " does not exist"));
    if (spec.sizeBytes() < rec.sizeBytes()) {
      throw new IllegalArgumentException("volume size " + spec.sizeBytes() + " is smaller than snapshot "
          + snapshotId + " (" + rec.sizeBytes() + " bytes)");
    }
    ParentRef parent = new ParentRef(rec.volumeId(), snapshotId, rec.epoch());
    Optional<Versioned> existing = readManifest(spec.id());
    if (existing.isPresent()) {
      return checkSame(existing.get().manifest(), spec.sizeBytes(), rec.chunkSize(), parent);
    }
    String marker = Layout.dependentKey(rec.volumeId(), snapshotId, spec.id());
    store.put(marker, EMPTY);
    // deleteSnapshot marks the pin deleted before it looks for markers: seeing the pin live after our marker is
    // visible means the snapshot's chunks stay
    Optional<Versioned> source = readManifest(rec.volumeId());
    SnapshotPin pin = source.map(v -> v.manifest().snapshots().get(snapshotId)).orElse(null);
    if (pin == null || pin.deleted()) {
      store.delete(marker);
      throw new StoreException(Kind.NOT_FOUND, "snapshot " + snapshotId + " is being deleted");
    }
    try {
      return createManifest(spec.id(), spec.sizeBytes(), rec.chunkSize(), spec.parameters(), parent);
    } catch (StoreException e) {
      Optional<Versioned> now = readManifest(spec.id());
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
    Optional<Versioned> existing = readManifest(spec.id());
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
    return readManifest(volumeId).map(Versioned::manifest).filter(m -> m.state() == State.READY);
  }

  /**
   * One page of live volumes in id order; {@code token} from the previous page or null. A page may hold fewer than
   * {@code maxEntries} (deleted volumes are skipped). IllegalArgumentException for a token the store rejects.
   */
  public Page<VolumeManifest> list(int maxEntries, @Nullable String token) throws IOException {
    ListPage page = listPage(Layout.MANIFESTS, token, maxEntries);
    // One GET per manifest: run them in parallel (bounded), keeping the LIST order.
    var reads = new ArrayList<java.util.concurrent.Future<Optional<Versioned>>>(page.objects().size());
    var permits = new java.util.concurrent.Semaphore(LIST_PARALLELISM);
    try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      for (ObjectInfo o : page.objects()) {
        String id = o.key().substring(Layout.MANIFESTS.length());
        reads.add(pool.submit(() -> {
          permits.acquire();
          try {
            return readManifest(id);
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
      after = update(volumeId, cur -> {
        if (cur.state() != State.READY) {
          return cur;
        }
        Lease l = cur.lease();
        if (l != null && !l.expiredAt(millis())) {
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
      collectGarbage(volumeId);
      return;
    }
    purge(volumeId);
  }

  /**
   * Grows a volume to {@code newSizeBytes} (no-op when already at least that big; shrinking is refused with
   * IllegalArgumentException). An open handle sees the new size after {@link ChunkStore#refresh()}.
   */
  public VolumeManifest resize(String volumeId, long newSizeBytes) throws IOException {
    Layout.checkId("volume", volumeId);
    VolumeManifest m = update(volumeId, cur -> {
      requireReady(cur);
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
    Layout.checkId("volume", volumeId);
    Layout.checkId("snapshot", snapshotId);
    Optional<SnapshotRecord> existing = getSnapshot(snapshotId);
    if (existing.isPresent()) {
      if (!existing.get().volumeId().equals(volumeId)) {
        throw new StoreException(Kind.CONFLICT, "snapshot id " + snapshotId + " is taken by a snapshot of volume "
            + existing.get().volumeId());
      }
      return new Taken(existing.get(), requireManifest(volumeId));
    }
    if (ownerId == null) {
      foldLeftoverLog(requireManifest(volumeId));
    }
    VolumeManifest m = update(volumeId, cur -> {
      requireReady(cur);
      if (cur.snapshots().containsKey(snapshotId)) {
        return cur; // an earlier attempt recorded the pin and then failed to write the record
      }
      long now = millis();
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
      SnapshotRecord other = getSnapshot(snapshotId).orElseThrow(() -> e);
      if (!other.volumeId().equals(volumeId) || other.epoch() != rec.epoch()) {
        dropPin(volumeId, snapshotId);
        throw new StoreException(Kind.CONFLICT, "snapshot id " + snapshotId + " was taken concurrently by volume "
            + other.volumeId());
      }
    }
    log.info("volume {}: snapshot {} at epoch {}", volumeId, snapshotId, rec.epoch());
    return new Taken(rec, m);
  }

  /** A live snapshot, or empty. */
  public Optional<SnapshotRecord> getSnapshot(String snapshotId) throws IOException {
    if (!Layout.ID.matcher(snapshotId).matches()) {
      return Optional.empty();
    }
    String key = Layout.snapshotKey(snapshotId);
    Optional<ObjectData> d = store.get(key);
    return d.isEmpty() ? Optional.empty() : Optional.of(Codec.snapshot(key, d.get().bytes()));
  }

  /** One page of live snapshots in id order, of one volume or (volumeId null) of all. */
  public Page<SnapshotRecord> listSnapshots(@Nullable String volumeId, int maxEntries, @Nullable String token)
      throws IOException {
    int max = maxEntries <= 0 ? 1000 : Math.min(maxEntries, 1000);
    if (volumeId == null) {
      ListPage page = listPage(Layout.SNAPSHOTS, token, max);
      List<SnapshotRecord> out = new ArrayList<>();
      for (ObjectInfo o : page.objects()) {
        getSnapshot(o.key().substring(Layout.SNAPSHOTS.length())).ifPresent(out::add);
      }
      return new Page<>(out, page.nextToken());
    }
    if (!Layout.ID.matcher(volumeId).matches()) {
      return new Page<>(List.of(), null);
    }
    Optional<Versioned> v = readManifest(volumeId);
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
      getSnapshot(id).ifPresent(out::add);
    }
    return new Page<>(out, last != null && live.lastKey().compareTo(last) > 0 ? last : null);
  }

  /** Deletes a snapshot and the chunk versions only it needed. Idempotent. Clones of it stay readable. */
  public void deleteSnapshot(String snapshotId) throws IOException {
    Optional<SnapshotRecord> rec = getSnapshot(snapshotId);
    if (rec.isEmpty()) {
      return;
    }
    String volumeId = rec.get().volumeId();
    try {
      update(volumeId, cur -> {
        SnapshotPin pin = cur.snapshots().get(snapshotId);
        if (pin == null || pin.deleted()) {
          return cur;
        }
        Map<String, SnapshotPin> pins = new HashMap<>(cur.snapshots());
        pins.put(snapshotId, new SnapshotPin(pin.epoch(), pin.createdAtMillis(), true));
        return cur.withSnapshots(cur.epoch(), pins);
      });
      if (hasDependents(volumeId, snapshotId)) {
        log.info("volume {}: snapshot {} deleted; kept hidden for its clones", volumeId, snapshotId);
      } else {
        dropPin(volumeId, snapshotId);
        log.info("volume {}: snapshot {} deleted", volumeId, snapshotId);
      }
    } catch (StoreException e) {
      if (e.kind() != Kind.NOT_FOUND) {
        throw e;
      }
    }
    store.delete(Layout.snapshotKey(snapshotId));
  }

  /**
   * Acquires (or renews, when {@code owner} holds it) the lease of a volume for {@link CatalogOptions#leaseDuration}.
   * CONFLICT naming the holder when another owner's lease is live (until its expiry plus the clock-skew allowance),
   * unless {@code owner} {@link LeaseOwner#replaces replaces} that holder, whose lease it then takes over at once.
   */
  public VolumeManifest acquireLease(String volumeId, LeaseOwner owner) throws IOException {
    Layout.checkId("volume", volumeId);
    VolumeManifest m = update(volumeId, cur -> {
      requireReady(cur);
      long now = millis();
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
      return next.withLease(new Lease(owner.id(), owner.address(), mine ? l.acquiredAtMillis() : now,
          now + options.leaseDuration().toMillis()));
    });
    Lease before = m.lease();
    log.debug("volume {}: lease held by {} until {}", volumeId, owner.id(), before == null ? null : before.expiresAt());
    return m;
  }

  /** Renews only: CONFLICT when {@code owner} does not hold the lease any more (taken over or released). */
  VolumeManifest renewLease(String volumeId, LeaseOwner owner) throws IOException {
    return update(volumeId, cur -> {
      Lease l = cur.lease();
      if (cur.state() != State.READY || l == null || !l.ownerId().equals(owner.id())) {
        throw new StoreException(Kind.CONFLICT, "volume " + volumeId + ": lease lost"
            + (l == null ? "" : " to gateway " + l.ownerId() + " (" + l.ownerAddress() + ")"));
      }
      return cur.withLease(new Lease(owner.id(), owner.address(), l.acquiredAtMillis(),
          millis() + options.leaseDuration().toMillis()));
    });
  }

  /** Releases the lease if {@code ownerId} holds it; no-op otherwise. */
  public void releaseLease(String volumeId, String ownerId) throws IOException {
    try {
      update(volumeId, cur -> cur.lease() != null && cur.lease().ownerId().equals(ownerId) ? cur.withLease(null) : cur);
    } catch (StoreException e) {
      if (e.kind() != Kind.NOT_FOUND) {
        throw e;
      }
    }
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
    Layout.checkId("volume", volumeId);
    return update(volumeId, cur -> {
      requireReady(cur);
      Publication p = cur.publications().get(nodeId);
      if (p != null) {
        if (p.readOnly() != readOnly) {
          throw new StoreException(Kind.CONFLICT, "volume " + volumeId + " is published to " + nodeId
              + (p.readOnly() ? " read-only" : " read-write"));
        }
        return cur;
      }
      if (exclusiveWriter && !readOnly) {
        for (var e : cur.publications().entrySet()) {
          if (!e.getValue().readOnly()) {
            throw new StoreException(Kind.CONFLICT, "volume " + volumeId + " already has a writer on node "
                + e.getKey());
          }
        }
      }
      Map<String, Publication> pubs = new HashMap<>(cur.publications());
      pubs.put(nodeId, new Publication(readOnly, millis()));
      return cur.withPublications(pubs);
    });
  }

  /** Removes the publication to {@code nodeId}; no-op when absent or the volume is gone. */
  public void unpublish(String volumeId, String nodeId) throws IOException {
    if (!Layout.ID.matcher(volumeId).matches()) {
      return;
    }
    try {
      update(volumeId, cur -> {
        if (!cur.publications().containsKey(nodeId)) {
          return cur;
        }
        Map<String, Publication> pubs = new HashMap<>(cur.publications());
        pubs.remove(nodeId);
        return cur.withPublications(pubs);
      });
    } catch (StoreException e) {
      if (e.kind() != Kind.NOT_FOUND) {
        throw e;
      }
    }
  }

  /**
   * Opens a volume's data. Writable ({@code readOnly == false}): acquires the lease for {@code owner} (CONFLICT when
   * another owner holds it) and renews it until {@link ChunkStore#close()}, which releases it. Read-only: no lease.
   * Builds the chunk index with one paged LIST per layer (the volume and each parent).
   */
  public ChunkStore open(String volumeId, LeaseOwner owner, boolean readOnly) throws IOException {
    Layout.checkId("volume", volumeId);
    VolumeManifest m = readManifest(volumeId).map(Versioned::manifest).filter(x -> x.state() == State.READY)
        .orElseThrow(() -> new StoreException(Kind.NOT_FOUND, "volume " + volumeId + " does not exist"));
    if (readOnly) {
      foldLeftoverLog(m);
    }
    long sent = System.nanoTime();
    if (!readOnly) {
      m = acquireLease(volumeId, owner);
    }
    VolumeChunkStore cs = new VolumeChunkStore(this, volumeId, m, layers(volumeId, Long.MAX_VALUE, m.parent()),
        readOnly ? null : owner, m.sizeBytes(), false);
    try {
      cs.load();
    } catch (IOException | RuntimeException e) {
      if (!readOnly) {
        releaseLease(volumeId, owner.id());
      }
      throw e;
    }
    if (!readOnly) {
      cs.startRenewal(sent);
      try {
        cs.replayLog();
      } catch (IOException | RuntimeException e) {
        cs.close();
        throw e;
      }
    }
    log.info("volume {}: opened {} by {} ({} chunks stored)", volumeId, readOnly ? "read-only" : "writable",
        owner.id(), cs.storedChunks());
    return cs;
  }

  /**
   * A log left by a writer that is gone (no live lease) is folded into the chunk objects before a reader that only
   * sees chunk objects (a read-only handle, an offline snapshot) looks at them: a writable open replays it. With a
   * live writer the reader sees what that writer folded so far.
   */
  private void foldLeftoverLog(VolumeManifest m) throws IOException {
    if (new VolumeLog(store, m.id(), options.metrics()).isEmpty()) {
      return;
    }
    Lease l = m.lease();
    if (l != null && l.mayBeHeldAt(millis(), options.clockSkew())) {
      log.info("volume {}: its writer {} has log segments not yet folded; a reader sees the chunks only", m.id(),
          l.ownerId());
      return;
    }
    log.info("volume {}: folding the write log its last writer left", m.id());
    open(m.id(), LeaseOwner.instance("log-replay", "", java.util.Set.of()), false).close();
  }

  /** Opens a snapshot's data read-only; its {@link ChunkStore#volumeId()} is the snapshot id. */
  public ChunkStore openSnapshot(String snapshotId) throws IOException {
    SnapshotRecord rec = getSnapshot(snapshotId)
        .orElseThrow(() -> new StoreException(Kind.NOT_FOUND, "snapshot " + snapshotId + " does not exist"));
    VolumeManifest m = requireManifest(rec.volumeId());
    VolumeChunkStore cs = new VolumeChunkStore(this, snapshotId, m, layers(rec.volumeId(), rec.epoch(), m.parent()),
        null, rec.sizeBytes(), true);
    cs.load();
    return cs;
  }

  /** Closes the object store if this catalog opened it. Open {@link ChunkStore}s must be closed first. */
  @Override
  public void close() {
    if (ownsStore) {
      store.close();
    }
  }

  // ---- internals

  /** The read-through chain of a volume: itself up to {@code maxEpoch}, then each parent at its snapshot epoch. */
  List<VolumeChunkStore.Layer> layers(String volumeId, long maxEpoch, @Nullable ParentRef parent) throws IOException {
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
      Optional<Versioned> pm = readManifest(id);
      if (pm.isEmpty()) {
        throw new StoreException(Kind.PERMANENT, "volume " + volumeId + ": parent volume " + id + " is missing");
      }
      p = pm.get().manifest().parent();
    }
    return layers;
  }

  Optional<Versioned> readManifest(String volumeId) throws StoreException {
    String key = Layout.manifestKey(volumeId);
    Optional<ObjectData> d = store.get(key);
    if (d.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new Versioned(Codec.manifest(key, d.get().bytes()), d.get().etag()));
  }

  VolumeManifest requireManifest(String volumeId) throws StoreException {
    return readManifest(volumeId).map(Versioned::manifest)
        .orElseThrow(() -> new StoreException(Kind.NOT_FOUND, "volume " + volumeId + " does not exist"));
  }

  /**
   * Read-modify-write of a manifest with If-Match, retried on conflict. NOT_FOUND when it does not exist; the
   * change's exceptions pass through.
   */
  VolumeManifest update(String volumeId, Change change) throws IOException {
    ReentrantLock lock = LOCKS[Math.floorMod((store.describe() + "\0" + volumeId).hashCode(), LOCKS.length)];
    lock.lock();
    try {
      String key = Layout.manifestKey(volumeId);
      for (int attempt = 1; ; attempt++) {
        Versioned v = readManifest(volumeId)
            .orElseThrow(() -> new StoreException(Kind.NOT_FOUND, "volume " + volumeId + " does not exist"));
        VolumeManifest next = change.apply(v.manifest());
        if (next == v.manifest()) {
          return next;
        }
        try {
          store.put(key, Codec.encode(next), WriteCondition.ifMatch(v.etag()));
          return next;
        } catch (ObjectStoreException e) {
          if (!e.isPrecondition() || attempt >= UPDATE_ATTEMPTS) {
            throw e;
          }
        }
        try {
          Thread.sleep(ThreadLocalRandom.current().nextLong(1, 5L * attempt + 2));
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new StoreException(Kind.TRANSIENT, "interrupted while updating volume " + volumeId);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  private VolumeManifest createManifest(String id, long size, int chunkSize, Map<String, String> parameters,
      @Nullable ParentRef parent) throws IOException {
    VolumeManifest m = new VolumeManifest(VolumeManifest.FORMAT, id, size, chunkSize, 1, parent, null, State.READY,
        parameters, Map.of(), Map.of(), millis());
    try {
      store.put(Layout.manifestKey(id), Codec.encode(m), WriteCondition.ifNoneMatch());
      log.info("volume {}: created, {} bytes, chunk {} bytes{}", id, size, chunkSize,
          parent == null ? "" : ", clone of " + parent.volumeId() + "@" + parent.snapshotId());
      return m;
    } catch (ObjectStoreException e) {
      if (!e.isPrecondition()) {
        throw e;
      }
      VolumeManifest existing = readManifest(id).map(Versioned::manifest).orElseThrow(
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

  private static void requireReady(VolumeManifest m) throws StoreException {
    if (m.state() != State.READY) {
      throw new StoreException(Kind.NOT_FOUND, "volume " + m.id() + " does not exist (deleted)");
    }
  }

  private ListPage listPage(String prefix, @Nullable String token, int maxEntries) throws IOException {
    int max = maxEntries <= 0 ? 1000 : Math.min(maxEntries, 1000);
    try {
      return store.list(prefix, token, max);
    } catch (ObjectStoreException e) {
      if (token != null && e.kind() == Kind.PERMANENT && e.httpStatus() == 400) {
        throw new IllegalArgumentException("list token is not valid: " + e.getMessage(), e);
      }
      throw e;
    }
  }

  private boolean hasDependents(String volumeId, String snapshotId) throws IOException {
    return !store.list(Layout.dependentsPrefix(volumeId, snapshotId), null, 1).objects().isEmpty();
  }

  /** Forgets a snapshot's pin, then removes what nobody needs any more (all of a deleted volume). */
  private void dropPin(String volumeId, String snapshotId) throws IOException {
    VolumeManifest m;
    try {
      m = update(volumeId, cur -> {
        if (!cur.snapshots().containsKey(snapshotId)) {
          return cur;
        }
        Map<String, SnapshotPin> pins = new HashMap<>(cur.snapshots());
        pins.remove(snapshotId);
        VolumeManifest next = cur.withSnapshots(cur.epoch(), pins);
        return cur.state() == State.DELETED && pins.isEmpty() ? next.withState(State.DELETING) : next;
      });
    } catch (StoreException e) {
      if (e.kind() == Kind.NOT_FOUND) {
        return;
      }
      throw e;
    }
    if (m.state() == State.DELETING) {
      purge(volumeId);
    } else {
      collectGarbage(volumeId);
    }
  }

  /** Removes every object of a volume in DELETING state, then its manifest, then releases its parent. */
  private void purge(String volumeId) throws IOException {
    Optional<Versioned> v = readManifest(volumeId);
    if (v.isEmpty()) {
      return;
    }
    VolumeManifest m = v.get().manifest();
    if (m.state() != State.DELETING) {
      m = update(volumeId, cur -> cur.state() == State.DELETING ? cur : cur.withState(State.DELETING));
    }
    long removed = deletePrefix(Layout.volumePrefix(volumeId));
    store.delete(Layout.manifestKey(volumeId));
    log.info("volume {}: deleted ({} objects removed)", volumeId, removed);
    ParentRef p = m.parent();
    if (p != null) {
      store.delete(Layout.dependentKey(p.volumeId(), p.snapshotId(), volumeId));
      Optional<Versioned> pv = readManifest(p.volumeId());
      SnapshotPin pin = pv.map(x -> x.manifest().snapshots().get(p.snapshotId())).orElse(null);
      if (pin != null && pin.deleted() && !hasDependents(p.volumeId(), p.snapshotId())) {
        dropPin(p.volumeId(), p.snapshotId());
      }
    }
  }

  private long deletePrefix(String prefix) throws IOException {
    long n = 0;
    for (int guard = 0; guard < 1_000_000; guard++) {
      // always list from the start: the previous page is gone
      ListPage page = store.list(prefix, null, 1000);
      if (page.objects().isEmpty()) {
        return n;
      }
      List<String> keys = page.objects().stream().map(ObjectInfo::key).toList();
      store.delete(keys);
      n += keys.size();
    }
    return n;
  }

  /**
   * Deletes chunk versions nobody can read: a key is needed when some pinned snapshot epoch S has key epoch &lt;= S
   * &lt; the next key's epoch for the same chunk, or when it is the newest key of a live volume.
   */
  void collectGarbage(String volumeId) throws IOException {
    Optional<Versioned> v = readManifest(volumeId);
    if (v.isEmpty()) {
      return;
    }
    VolumeManifest m = v.get().manifest();
    long[] pins = m.snapshots().values().stream().mapToLong(SnapshotPin::epoch).sorted().toArray();
    boolean live = m.state() == State.READY;
    String prefix = Layout.chunksPrefix(volumeId);
    int pl = prefix.length();
    List<String> garbage = new ArrayList<>();
    long groupIndex = -1;
    List<ObjectInfo> group = new ArrayList<>();
    String token = null;
    long removed = 0;
    do {
      ListPage page = store.list(prefix, token, 1000);
      for (ObjectInfo o : page.objects()) {
        long idx = Layout.chunkIndex(o.key(), pl);
        if (idx < 0) {
          continue;
        }
        if (idx != groupIndex) {
          judge(group, pins, live, pl, garbage);
          group.clear();
          groupIndex = idx;
        }
        group.add(o);
      }
      if (garbage.size() >= 1000) {
        store.delete(garbage);
        removed += garbage.size();
        garbage.clear();
      }
      token = page.nextToken();
    } while (token != null);
    judge(group, pins, live, pl, garbage);
    store.delete(garbage);
    removed += garbage.size();
    if (removed > 0) {
      log.info("volume {}: removed {} chunk versions no snapshot needs", volumeId, removed);
    }
  }

  private static void judge(List<ObjectInfo> group, long[] pins, boolean live, int pl, List<String> garbage) {
    for (int k = 0; k < group.size(); k++) {
      long e = Layout.chunkEpoch(group.get(k).key(), pl);
      long next = k + 1 < group.size() ? Layout.chunkEpoch(group.get(k + 1).key(), pl) : Long.MAX_VALUE;
      boolean needed = (live && k == group.size() - 1) || pinnedBetween(pins, e, next);
      if (!needed) {
        garbage.add(group.get(k).key());
      }
    }
  }

  /** Whether some pin S has {@code from <= S < to}. */
  static boolean pinnedBetween(long[] sortedPins, long from, long to) {
    int i = java.util.Arrays.binarySearch(sortedPins, from);
    int at = i >= 0 ? i : -i - 1;
    return at < sortedPins.length && sortedPins[at] < to;
  }

  long millis() {
    return options.clock().millis();
  }
}
