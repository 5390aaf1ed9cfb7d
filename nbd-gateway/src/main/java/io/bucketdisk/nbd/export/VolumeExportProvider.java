package io.bucketdisk.nbd.export;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.engine.cache.ChunkCache;
import io.bucketdisk.engine.volume.VolumeHandle;
import io.bucketdisk.engine.volume.VolumeRegistry;
import io.bucketdisk.engine.volume.VolumeSource;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.VolumeSpec;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The engine's volumes as NBD exports: every volume of a {@link VolumeRegistry} under its id, every snapshot
 * read-only as {@code <volume>@<snapshot>}. Each {@link #open} takes a {@link VolumeHandle} (the volume opens on the
 * first, and is flushed and closed after the last) and wraps it in a {@link VolumeExport}.
 *
 * <p>Thread safe. Closing the provider closes the registry: every open volume is flushed and closed.
 */
public final class VolumeExportProvider implements ExportProvider {
  private final VolumeRegistry volumes;
  private final @Nullable String defaultExport;

  public VolumeExportProvider(VolumeRegistry volumes, @Nullable String defaultExport) {
    this.volumes = volumes;
    this.defaultExport = defaultExport;
  }

  /** The volumes of {@code source} through {@code cache} (tests and in-memory sources). */
  public VolumeExportProvider(VolumeSource source, ChunkCache cache, @Nullable String defaultExport) {
    this(new VolumeRegistry(source, cache, null), defaultExport);
  }

  /**
   * Serves every volume of the store at {@code storeUrl} with a cache of {@code config}, taking leases as {@code
   * owner}. When {@code createDefault} is given, that volume is created first if it does not exist (idempotent) and is
   * the default export.
   */
  public static VolumeExportProvider forStore(URI storeUrl, LeaseOwner owner, CacheConfig config,
      @Nullable VolumeSpec createDefault) throws IOException {
    return forStore(storeUrl, owner, config, createDefault, StoreMetrics.NONE);
  }

  /** As above, reporting the store's requests to {@code metrics}. */
  public static VolumeExportProvider forStore(URI storeUrl, LeaseOwner owner, CacheConfig config,
      @Nullable VolumeSpec createDefault, StoreMetrics metrics) throws IOException {
    return forStore(storeUrl, owner, config, null, createDefault, metrics);
  }

  /** As above, with {@code disk} (null: none) as the cache's disk tier. */
  public static VolumeExportProvider forStore(URI storeUrl, LeaseOwner owner, CacheConfig config,
      io.bucketdisk.engine.cache.@Nullable DiskTier disk, @Nullable VolumeSpec createDefault, StoreMetrics metrics)
      throws IOException {
    return new VolumeExportProvider(VolumeRegistry.forStore(storeUrl, owner, config, disk, createDefault, metrics),
        createDefault == null ? null : createDefault.id());
  }

  /** The engine's open volumes behind these exports (what the control API works on). */
  public VolumeRegistry volumes() {
    return volumes;
  }

  @Override
  public List<Listing> list() throws IOException {
    List<Listing> out = new ArrayList<>();
    for (VolumeSource.Listing l : volumes.list()) {
      out.add(new Listing(l.name(), describe(l.sizeBytes(), l.readOnly())));
    }
    return out;
  }

  private static String describe(long size, boolean readOnly) {
    return "bucketdisk volume, " + size + " bytes" + (readOnly ? ", read-only snapshot" : "");
  }

  @Override
  public Optional<Export> open(String name) throws IOException {
    return volumes.open(name).map(h -> new VolumeExport(h, name,
        describe(h.volume().size(), h.volume().readOnly())));
  }

  @Override
  public Optional<String> defaultExport() {
    return Optional.ofNullable(defaultExport);
  }

  @Override
  public void close() throws IOException {
    volumes.close();
  }
}
