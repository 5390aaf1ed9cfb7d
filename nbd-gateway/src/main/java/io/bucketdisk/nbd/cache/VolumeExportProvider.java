package io.bucketdisk.nbd.cache;

import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ExportException;
import io.bucketdisk.nbd.export.ExportProvider;
import io.bucketdisk.nbd.export.NbdError;
import io.bucketdisk.store.ChunkStore;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Exports every volume (and, read-only, every snapshot) of a {@link VolumeSource} through one shared
 * {@link ChunkCache}. A volume is opened at the first {@link #open} of its name and closed — flushed, then its store
 * handle released — when its last handle closes. All handles of a name share one {@link VolumeCache}, which is what
 * makes NBD multi-conn correct.
 *
 * <p>Also the gateway control API's view of open volumes ({@link #flushVolume}, {@link #snapshotVolume},
 * {@link #refreshVolume}, {@link #openVolumes}).
 *
 * <p>Thread safe. Opening and releasing volumes is serialized by one lock (a store open or a final flush may take a
 * while; NBD verbs never take this lock).
 */
public final class VolumeExportProvider implements ExportProvider {
  private static final Logger log = LoggerFactory.getLogger(VolumeExportProvider.class);

  private final VolumeSource source;
  private final ChunkCache cache;
  private final @Nullable String defaultExport;
  private final @Nullable AutoCloseable resource;
  private final ReentrantLock lock = new ReentrantLock();
  /** Signalled whenever a volume is closed (its last handle released). */
  private final Condition volumeClosed = lock.newCondition();
  private final Map<String, Open> open = new LinkedHashMap<>();
  private boolean closed;

  /** A volume in use: its cache and the number of handles on it. */
  private static final class Open {
    final VolumeCache volume;
    int handles;

    Open(VolumeCache volume) {
      this.volume = volume;
    }
  }

  /** A volume open on this gateway, for ListOpenVolumes. */
  public record OpenVolume(String name, int connections, long dirtyBytes, long sizeBytes, VolumeCounters counters) {}

  public VolumeExportProvider(VolumeSource source, ChunkCache cache, @Nullable String defaultExport) {
    this(source, cache, defaultExport, null);
  }

  /** As above; {@code resource} (e.g. the catalog behind {@code source}) is closed last by {@link #close()}. */
  public VolumeExportProvider(VolumeSource source, ChunkCache cache, @Nullable String defaultExport,
      @Nullable AutoCloseable resource) {
    this.source = source;
    this.cache = cache;
    this.defaultExport = defaultExport;
    this.resource = resource;
  }

  /**
   * Serves every volume of the store at {@code storeUrl} ({@code file:///dir} or {@code s3://bucket/prefix?...})
   * with a cache of {@code config}, taking leases as {@code owner}. When {@code createDefault} is given, that volume
   * is created first if it does not exist (idempotent) and is the default export.
   */
  public static VolumeExportProvider forStore(java.net.URI storeUrl, io.bucketdisk.store.LeaseOwner owner,
      CacheConfig config, io.bucketdisk.store.@Nullable VolumeSpec createDefault) throws IOException {
    return forStore(storeUrl, owner, config, createDefault, io.bucketdisk.store.StoreMetrics.NONE);
  }

  /** As above, reporting the store's requests to {@code metrics}. */
  public static VolumeExportProvider forStore(java.net.URI storeUrl, io.bucketdisk.store.LeaseOwner owner,
      CacheConfig config, io.bucketdisk.store.@Nullable VolumeSpec createDefault,
      io.bucketdisk.store.StoreMetrics metrics) throws IOException {
    io.bucketdisk.store.VolumeCatalog catalog = io.bucketdisk.store.VolumeCatalog.open(storeUrl,
        io.bucketdisk.store.CatalogOptions.defaults().withMetrics(metrics));
    try {
      if (createDefault != null) {
        catalog.create(createDefault);
      }
    } catch (IOException | RuntimeException e) {
      catalog.close();
      throw e;
    }
    return new VolumeExportProvider(new CatalogVolumeSource(catalog, owner), new ChunkCache(config),
        createDefault == null ? null : createDefault.id(), catalog);
  }

  public ChunkCache chunkCache() {
    return cache;
  }

  /** The store catalog behind the volumes, when they come from one (not for in-memory test sources). */
  public Optional<io.bucketdisk.store.VolumeCatalog> catalog() {
    return source instanceof CatalogVolumeSource c ? Optional.of(c.catalog()) : Optional.empty();
  }

  @Override
  public List<Listing> list() throws IOException {
    List<Listing> out = new ArrayList<>();
    for (VolumeSource.Listing l : source.list()) {
      out.add(new Listing(l.name(), describe(l.sizeBytes(), l.readOnly())));
    }
    return out;
  }

  private static String describe(long size, boolean readOnly) {
    return "bucketdisk volume, " + size + " bytes" + (readOnly ? ", read-only snapshot" : "");
  }

  @Override
  public Optional<Export> open(String name) throws IOException {
    lock.lock();
    try {
      if (closed) {
        throw new ExportException(NbdError.ESHUTDOWN, "gateway is shutting down");
      }
      Open o = open.get(name);
      if (o == null) {
        Optional<ChunkStore> store = source.open(name);
        if (store.isEmpty()) {
          return Optional.empty();
        }
        VolumeCache v;
        try {
          v = new VolumeCache(store.get(), cache);
        } catch (RuntimeException e) {
          store.get().close();
          throw e;
        }
        o = new Open(v);
        open.put(name, o);
        log.info("volume {}: opened ({} bytes, chunk {} bytes{})", name, v.size(), v.chunkSize(),
            v.store().readOnly() ? ", read-only" : "");
      }
      o.handles++;
      Open handleOf = o;
      return Optional.of(new VolumeExport(o.volume, name, describe(o.volume.size(), o.volume.store().readOnly()),
          () -> release(name, handleOf)));
    } finally {
      lock.unlock();
    }
  }

  private void release(String name, Open o) {
    lock.lock();
    try {
      o.handles--;
      if (o.handles > 0 || open.get(name) != o) {
        return;
      }
      open.remove(name);
      try {
        o.volume.close();
      } catch (IOException e) {
        log.error("volume {}: close after the last connection failed: {}", name, e.toString());
      }
      volumeClosed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Optional<String> defaultExport() {
    return Optional.ofNullable(defaultExport);
  }

  private @Nullable VolumeCache find(String name) {
    lock.lock();
    try {
      Open o = open.get(name);
      return o == null ? null : o.volume;
    } finally {
      lock.unlock();
    }
  }

  /** Flushes {@code name} if it is open here; false when it is not. */
  public boolean flushVolume(String name) throws IOException {
    VolumeCache v = find(name);
    if (v == null) {
      return false;
    }
    v.flush();
    return true;
  }

  /** Flushes {@code name} and records snapshot {@code snapshotId}; false when it is not open here. */
  public boolean snapshotVolume(String name, String snapshotId) throws IOException {
    VolumeCache v = find(name);
    if (v == null) {
      return false;
    }
    v.snapshot(snapshotId);
    return true;
  }

  /** Re-reads {@code name}'s manifest; its new size, or empty when it is not open here. */
  public Optional<Long> refreshVolume(String name) throws IOException {
    VolumeCache v = find(name);
    if (v == null) {
      return Optional.empty();
    }
    v.refresh();
    return Optional.of(v.size());
  }

  /**
   * Waits up to {@code timeout} until {@code name} is not open here (its last connection ended and the volume was
   * flushed, closed and its lease released); the number of handles still open then, 0 when it is closed.
   */
  public int awaitClosed(String name, java.time.Duration timeout) throws InterruptedException {
    long left = timeout.toNanos();
    lock.lock();
    try {
      while (true) {
        Open o = open.get(name);
        if (o == null) {
          return 0;
        }
        if (left <= 0) {
          return o.handles;
        }
        left = volumeClosed.awaitNanos(left);
      }
    } finally {
      lock.unlock();
    }
  }

  /** The volumes open now. */
  public List<OpenVolume> openVolumes() {
    lock.lock();
    try {
      List<OpenVolume> out = new ArrayList<>();
      open.forEach((name, o) -> out.add(
          new OpenVolume(name, o.handles, o.volume.dirtyBytes(), o.volume.size(), o.volume.counters())));
      return out;
    } finally {
      lock.unlock();
    }
  }

  /** Flushes and closes every open volume; handles still open fail with ESHUTDOWN afterwards. */
  @Override
  public void close() throws IOException {
    lock.lock();
    try {
      closed = true;
      IOException failure = null;
      for (Map.Entry<String, Open> e : open.entrySet()) {
        try {
          e.getValue().volume.close();
        } catch (IOException ex) {
          log.error("volume {}: close failed: {}", e.getKey(), ex.toString());
          if (failure == null) {
            failure = ex;
          } else {
            failure.addSuppressed(ex);
          }
        }
      }
      open.clear();
      if (resource != null) {
        try {
          resource.close();
        } catch (Exception ex) {
          log.warn("closing the store failed: {}", ex.toString());
        }
      }
      if (failure != null) {
        throw failure;
      }
    } finally {
      lock.unlock();
    }
  }
}
