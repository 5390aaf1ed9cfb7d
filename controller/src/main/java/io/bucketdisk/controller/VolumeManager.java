package io.bucketdisk.controller;

import io.bucketdisk.store.Page;
import io.bucketdisk.store.StoreException;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.VolumeIds;
import io.bucketdisk.store.VolumeSpec;
import io.bucketdisk.store.layout.Lease;
import io.bucketdisk.store.layout.VolumeManifest;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Volume lifecycle on top of the store's {@link VolumeCatalog}: idempotent create (empty, from a snapshot, or a clone
 * of a volume; no data copied), delete, expand, get and paged list. Used by the CSI {@code ControllerService} and by
 * {@code ./bucketdisk volume}.
 *
 * <p><b>Idempotency.</b> The id comes from the name ({@link VolumeIds}); the manifest records the name, the requested
 * parameters and the content source, and a repeat is answered from the stored manifest: the same volume when
 * compatible, {@link VolumeError.Reason#ALREADY_EXISTS} otherwise. The store creates a manifest with {@code
 * If-None-Match}, so a create is atomic even across processes and crashes.
 *
 * <p><b>Threading.</b> Thread safe; operations on one volume or name are serialised through {@link OperationLocks}
 * (a concurrent second call gets ABORTED). Throws {@link VolumeError}, {@link StoreException} or {@link IOException}.
 */
public final class VolumeManager {

  /** Manifest parameter holding the CO's name of the volume. */
  public static final String NAME_KEY = VolumeIds.NAME_KEY;
  /** Manifest parameter holding the content source: {@code snapshot:<id>} or {@code volume:<id>}. */
  public static final String SOURCE_KEY = "csi.source";
  /** Manifest parameter holding the access types asked for at creation: block, mount or block+mount. */
  public static final String ACCESS_KEY = "csi.access";
  private static final Pattern STORE_ID = Pattern.compile("[A-Za-z0-9._-]{1,200}");
  private static final Logger log = LoggerFactory.getLogger(VolumeManager.class);

  private final VolumeCatalog catalog;
  private final GatewayClient gateways;
  private final OperationLocks locks;

  /** What to create. {@code mountFsType} is the mount capability's fs_type, or null for block only. */
  public record CreateRequest(
      String name, long requiredBytes, long limitBytes, Map<String, String> parameters, @Nullable String mountFsType,
      String access, @Nullable Source source) {}

  /** A content source. */
  public record Source(Kind kind, String id) {
    /** Snapshot restore or volume clone. */
    public enum Kind {
      SNAPSHOT,
      VOLUME
    }

    String encode() {
      return (kind == Kind.SNAPSHOT ? "snapshot:" : "volume:") + id;
    }

    static @Nullable Source decode(@Nullable String s) {
      if (s == null || s.isEmpty()) {
        return null;
      }
      return s.startsWith("snapshot:") ? new Source(Kind.SNAPSHOT, s.substring(9)) : new Source(Kind.VOLUME,
          s.substring(s.indexOf(':') + 1));
    }
  }

  public VolumeManager(VolumeCatalog catalog, GatewayClient gateways) {
    this(catalog, gateways, new OperationLocks());
  }

  VolumeManager(VolumeCatalog catalog, GatewayClient gateways, OperationLocks locks) {
    this.catalog = catalog;
    this.gateways = gateways;
    this.locks = locks;
  }

  VolumeCatalog catalog() {
    return catalog;
  }

  OperationLocks locks() {
    return locks;
  }

  /** True when {@code id} could name a volume or snapshot in the store at all. */
  static boolean plausibleId(String id) {
    return STORE_ID.matcher(id).matches();
  }

  /** Creates the volume for {@code req}, or returns the one an earlier identical call created. */
  public VolumeManifest create(CreateRequest req) throws IOException {
    var params = VolumeParameters.parse(req.parameters(), req.mountFsType());
    String id = VolumeIds.forName(req.name());
    Map<String, String> stored = new HashMap<>(params.volumeContext());
    stored.put(NAME_KEY, req.name());
    stored.put(ACCESS_KEY, req.access());
    if (req.source() != null) {
      stored.put(SOURCE_KEY, req.source().encode());
    }
    try (var lock = locks.acquire("name:" + req.name(), "volume:" + id)) {
      Optional<VolumeManifest> existing = catalog.get(id);
      if (existing.isPresent()) {
        return compatible(existing.get(), req, stored);
      }
      long minimum = req.source() == null ? 0 : sourceSize(req.source());
      long size = Capacity.forCreate(req.requiredBytes(), req.limitBytes(), minimum);
      var spec = new VolumeSpec(id, size, params.chunkSize(), stored);
      VolumeManifest created;
      try {
        created = createInStore(spec, req.source());
      } catch (StoreException e) {
        if (e.kind() != StoreException.Kind.CONFLICT) {
          throw e;
        }
        var now = catalog.get(id);
        if (now.isPresent()) {
          return compatible(now.get(), req, stored);
        }
        throw new VolumeError(VolumeError.Reason.ALREADY_EXISTS, "volume id " + id + " (from name '" + req.name()
            + "') belongs to a deleted volume still kept for its snapshots; use another name");
      }
      VolumeManifest result = compatible(created, req, stored);
      log.info("volume {}: created {} bytes, chunk {} bytes{} for name '{}'", id, result.sizeBytes(),
          result.chunkSize(), req.source() == null ? "" : " from " + req.source().encode(), req.name());
      return result;
    }
  }

  private VolumeManifest createInStore(VolumeSpec spec, @Nullable Source source) throws IOException {
    if (source == null) {
      return catalog.create(spec);
    }
    if (source.kind() == Source.Kind.SNAPSHOT) {
      return catalog.createFromSnapshot(spec, source.id());
    }
    VolumeManifest src = catalog.get(source.id()).orElseThrow(() -> sourceMissing(source));
    Lease lease = liveLease(src);
    if (lease == null) {
      return catalog.createFromVolume(spec, source.id());
    }
    // The source is open on a gateway: only that gateway can cut a snapshot that includes its acknowledged writes.
    String hidden = "clone-src-" + spec.id();
    gateways.snapshot(lease.ownerAddress(), source.id(), hidden);
    VolumeManifest clone = catalog.createFromSnapshot(spec, hidden);
    catalog.deleteSnapshot(hidden);
    return clone;
  }

  private long sourceSize(Source source) throws IOException {
    if (!plausibleId(source.id())) {
      throw sourceMissing(source);
    }
    if (source.kind() == Source.Kind.SNAPSHOT) {
      return catalog.getSnapshot(source.id()).orElseThrow(() -> sourceMissing(source)).sizeBytes();
    }
    return catalog.get(source.id()).orElseThrow(() -> sourceMissing(source)).sizeBytes();
  }

  private static VolumeError sourceMissing(Source source) {
    return VolumeError.notFound("content source " + (source.kind() == Source.Kind.SNAPSHOT ? "snapshot " : "volume ")
        + source.id() + " does not exist");
  }

  private static VolumeManifest compatible(VolumeManifest m, CreateRequest req, Map<String, String> stored) {
    String name = m.parameters().get(NAME_KEY);
    if (!req.name().equals(name)) {
      throw new VolumeError(VolumeError.Reason.ALREADY_EXISTS, "volume id " + m.id() + " already belongs to name '"
          + name + "'; use another name");
    }
    if (!Capacity.satisfies(m.sizeBytes(), req.requiredBytes(), req.limitBytes())) {
      throw new VolumeError(VolumeError.Reason.ALREADY_EXISTS, "volume '" + req.name() + "' exists with "
          + m.sizeBytes() + " bytes, outside the requested range [" + req.requiredBytes() + ", "
          + (req.limitBytes() == 0 ? "unlimited" : req.limitBytes()) + "]");
    }
    if (!m.parameters().equals(stored)) {
      throw new VolumeError(VolumeError.Reason.ALREADY_EXISTS, "volume '" + req.name()
          + "' exists with other parameters, capabilities or content source: " + describe(m.parameters()));
    }
    return m;
  }

  private static String describe(Map<String, String> p) {
    var copy = new HashMap<>(p);
    copy.remove(NAME_KEY);
    return copy.toString();
  }

  /** The live volume, or empty (also for ids that cannot exist). */
  public Optional<VolumeManifest> get(String id) throws IOException {
    return plausibleId(id) ? catalog.get(id) : Optional.empty();
  }

  /** The live volume or NOT_FOUND. */
  public VolumeManifest require(String id) throws IOException {
    return get(id).orElseThrow(() -> VolumeError.notFound("volume " + id + " does not exist"));
  }

  /**
   * Deletes the volume and all its objects; OK when it is already gone. FAILED_PRECONDITION while it is published
   * to a node or open on a gateway.
   */
  public void delete(String id) throws IOException {
    if (!plausibleId(id)) {
      return;
    }
    try (var lock = locks.acquire("volume:" + id)) {
      var m = catalog.get(id);
      if (m.isPresent() && !m.get().publications().isEmpty()) {
        throw new VolumeError(VolumeError.Reason.PRECONDITION, "volume " + id + " is still published to node(s) "
            + m.get().publications().keySet() + "; ControllerUnpublishVolume first");
      }
      try {
        // Also when get() saw nothing: a delete interrupted by a crash leaves a hidden manifest that this finishes.
        catalog.delete(id);
      } catch (StoreException e) {
        if (e.kind() == StoreException.Kind.CONFLICT) {
          throw new VolumeError(VolumeError.Reason.PRECONDITION, "volume " + id + " is in use: " + e.getMessage());
        }
        throw e;
      }
      if (m.isPresent()) {
        log.info("volume {}: deleted", id);
      }
    }
  }

  /** Grows the volume to satisfy the range; no-op when it is already big enough. Returns the manifest after. */
  public VolumeManifest expand(String id, long requiredBytes, long limitBytes) throws IOException {
    long target = Capacity.forExpand(requiredBytes, limitBytes);
    try (var lock = locks.acquire("volume:" + id)) {
      VolumeManifest m = require(id);
      if (m.sizeBytes() >= target) {
        return m;
      }
      VolumeManifest grown = catalog.resize(id, target);
      log.info("volume {}: expanded from {} to {} bytes", id, m.sizeBytes(), grown.sizeBytes());
      Lease lease = liveLease(grown);
      if (lease != null) {
        gateways.refresh(lease.ownerAddress(), id);
      }
      return grown;
    }
  }

  /**
   * One page of live volumes, without ephemeral inline volumes (the node's, not the CO's: {@link
   * VolumeIds#EPHEMERAL_KEY}); a page may hold fewer than {@code maxEntries}. {@code maxEntries} 0 means all. {@code token} is a token this method returned (empty
   * to start); any other is BAD_TOKEN.
   */
  public Page<VolumeManifest> list(int maxEntries, String token) throws IOException {
    if (maxEntries < 0) {
      throw VolumeError.invalid("max_entries must not be negative");
    }
    String storeToken = PageToken.unwrap("volumes", token);
    if (maxEntries > 0) {
      Page<VolumeManifest> page = listStore(maxEntries, storeToken, token);
      return new Page<>(page.items(), page.nextToken() == null ? null : PageToken.wrap("volumes", page.nextToken()));
    }
    var all = new ArrayList<VolumeManifest>();
    String next = storeToken;
    for (int pages = 0; pages < 100_000; pages++) {
      Page<VolumeManifest> page = listStore(1000, next, token);
      all.addAll(page.items());
      next = page.nextToken();
      if (next == null) {
        break;
      }
    }
    return new Page<>(all, null);
  }

  private Page<VolumeManifest> listStore(int max, @Nullable String storeToken, String token) throws IOException {
    try {
      Page<VolumeManifest> page = catalog.list(max, storeToken);
      return new Page<>(page.items().stream()
          .filter(m -> !VolumeIds.isEphemeral(m)).toList(), page.nextToken());
    } catch (IllegalArgumentException e) {
      throw new VolumeError(VolumeError.Reason.BAD_TOKEN, "starting_token '" + token + "' is no longer valid ("
          + e.getMessage() + "); restart the listing with an empty token");
    }
  }

  /** The lease of a gateway that has the volume open now, or null. */
  @Nullable Lease liveLease(VolumeManifest m) {
    Lease lease = m.lease();
    if (lease == null || lease.expiredAt(catalog.options().clock().millis())) {
      return null;
    }
    return lease;
  }

  /** The content source recorded at creation, or null. */
  public static @Nullable Source sourceOf(VolumeManifest m) {
    return Source.decode(m.parameters().get(SOURCE_KEY));
  }

  /** What the node plugin gets as volume_context: chunk size, read-ahead and fs type. Stable per volume. */
  public static Map<String, String> volumeContext(VolumeManifest m) {
    return VolumeParameters.fromStored(m.parameters(), m.chunkSize()).volumeContext();
  }
}
