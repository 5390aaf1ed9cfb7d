package io.bucketdisk.engine.volume;

import io.bucketdisk.engine.EngineException;
import io.bucketdisk.engine.Volume;
import io.bucketdisk.engine.VolumeCounters;
import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.engine.cache.ChunkCache;
import io.bucketdisk.engine.cache.VolumeCache;
import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.ChunkStore;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.VolumeSpec;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
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
 * The volumes open in one gateway, over one shared {@link ChunkCache}. A volume is opened at the first {@link #open}
 * of its name and closed (flushed, then its store handle and lease released) when its last {@link VolumeHandle}
 * closes. Every handle of a name shares one {@link Volume}, which is what makes a FLUSH on one connection cover
 * writes on the others. Snapshots ({@code volume@snapshot}) open read-only.
 *
 * <p>Also the control API's view of open volumes ({@link #flushVolume}, {@link #snapshotVolume},
 * {@link #refreshVolume}, {@link #awaitClosed}, {@link #openVolumes}).
 *
 * <p>Thread safe. Opening and releasing volumes is serialized by one lock (a store open or a final flush may take a
 * while; the verbs of an open volume never take it).
 */
public final class VolumeRegistry implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(VolumeRegistry.class);

  private final VolumeSource source;
  private final ChunkCache cache;
  private final @Nullable AutoCloseable resource;
  private final ReentrantLock lock = new ReentrantLock();
  /** Signalled whenever a volume is closed (its last handle released). */
  private final Condition volumeClosed = lock.newCondition();
  private final Map<String, Open> open = new LinkedHashMap<>();
  private boolean closed;

  /** A volume in use: the volume and the number of handles on it. */
  private static final class Open {
    final Volume volume;
    int handles;

    Open(Volume volume) {
      this.volume = volume;
    }
  }

  /** A volume open on this gateway, for the control API's ListOpenVolumes. */
  public record OpenVolume(String name, int connections, long dirtyBytes, long sizeBytes, VolumeCounters counters) {}

  /** Volumes of {@code source} through {@code cache}; {@code resource} (e.g. the catalog behind the source) is closed last. */
  public VolumeRegistry(VolumeSource source, ChunkCache cache, @Nullable AutoCloseable resource) {
    this.source = source;
    this.cache = cache;
    this.resource = resource;
  }

  /**
   * Every volume of the store at {@code storeUrl} ({@code file:///dir} or {@code s3://bucket/prefix?...}) with a
   * cache of {@code config}, leases taken as {@code owner}, store requests reported to {@code metrics}. When {@code
   * createVolume} is given, that volume is created first if it does not exist (idempotent).
   */
  public static VolumeRegistry forStore(URI storeUrl, LeaseOwner owner, CacheConfig config,
      @Nullable VolumeSpec createVolume, StoreMetrics metrics) throws IOException {
    return forStore(storeUrl, owner, config, null, createVolume, metrics);
  }

  /** As above, with {@code disk} (null: none) as the cache's disk tier. */
  public static VolumeRegistry forStore(URI storeUrl, LeaseOwner owner, CacheConfig config,
      io.bucketdisk.engine.cache.@Nullable DiskTier disk, @Nullable VolumeSpec createVolume, StoreMetrics metrics)
      throws IOException {
    VolumeCatalog catalog = VolumeCatalog.open(storeUrl, CatalogOptions.defaults().withMetrics(metrics));
    try {
      if (createVolume != null) {
        catalog.create(createVolume);
      }
    } catch (IOException | RuntimeException e) {
      catalog.close();
      throw e;
    }
    return new VolumeRegistry(new CatalogVolumeSource(catalog, owner), new ChunkCache(config, disk), catalog);
  }

  public ChunkCache chunkCache() {
    return cache;
  }

  /** The store catalog behind the volumes, when they come from one (not for in-memory test sources). */
  public Optional<VolumeCatalog> catalog() {
    return source instanceof CatalogVolumeSource c ? Optional.of(c.catalog()) : Optional.empty();
  }

  /** Every name that can be opened, volumes and their snapshots, in a stable order. */
  public List<VolumeSource.Listing> list() throws IOException {
    return source.list();
  }

  /** A handle on volume {@code name}, opening it if it is not open yet; empty when there is no such name. */
  public Optional<VolumeHandle> open(String name) throws IOException {
    lock.lock();
    try {
      if (closed) {
        throw new EngineException(EngineException.Kind.CLOSED, "gateway is shutting down");
      }
      Open o = open.get(name);
      if (o == null) {
        Optional<ChunkStore> store = source.open(name);
        if (store.isEmpty()) {
          return Optional.empty();
        }
        Volume v;
        try {
          v = new VolumeCache(store.get(), cache);
        } catch (RuntimeException e) {
          store.get().close();
          throw e;
        }
        o = new Open(v);
        open.put(name, o);
        log.info("volume {}: opened ({} bytes, chunk {} bytes{})", name, v.size(), v.chunkSize(),
            v.readOnly() ? ", read-only" : "");
      }
      o.handles++;
      Open handleOf = o;
      return Optional.of(new VolumeHandle(o.volume, () -> release(name, handleOf)));
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

  private @Nullable Volume find(String name) {
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
    Volume v = find(name);
    if (v == null) {
      return false;
    }
    v.flush();
    return true;
  }

  /** Flushes {@code name} and records snapshot {@code snapshotId}; false when it is not open here. */
  public boolean snapshotVolume(String name, String snapshotId) throws IOException {
    Volume v = find(name);
    if (v == null) {
      return false;
    }
    v.snapshot(snapshotId);
    return true;
  }

  /** Re-reads {@code name}'s manifest; its new size, or empty when it is not open here. */
  public Optional<Long> refreshVolume(String name) throws IOException {
    Volume v = find(name);
    if (v == null) {
      return Optional.empty();
    }
    v.refresh();
    return Optional.of(v.size());
  }

  /**
   * Waits up to {@code timeout} until {@code name} is not open here (its last handle closed and the volume was
   * flushed, closed and its lease released); the number of handles still open then, 0 when it is closed.
   */
  public int awaitClosed(String name, Duration timeout) throws InterruptedException {
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

  /** Flushes and closes every open volume; handles still open fail with {@code CLOSED} afterwards. */
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
