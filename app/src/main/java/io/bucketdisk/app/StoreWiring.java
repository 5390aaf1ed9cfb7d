package io.bucketdisk.app;

import io.bucketdisk.store.object.ObjectStores;
import io.bucketdisk.common.size.ByteSize;
import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.engine.cache.DiskTier;
import io.bucketdisk.engine.volume.VolumeRegistry;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.nbd.control.GatewayControlServer;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeSpec;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * How {@code gateway} and {@code dev} put the store-backed exports together: a store catalog, the gateway-wide chunk
 * cache and the control API. Bad flags and unreachable stores become one-line {@link UserError}s.
 */
final class StoreWiring {
  private StoreWiring() {}

  /** The node part of this gateway's lease owner id: {@code $NODE_NAME} (Kubernetes), else the host name. */
  static String gatewayId() {
    String node = System.getenv("NODE_NAME");
    if (node != null && !node.isBlank()) {
      return node;
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "gateway";
    }
  }

  /**
   * The store-backed provider of {@code gateway}. Its lease owner is a new instance of this node ({@link #gatewayId}),
   * locked in {@code runDir} (the directory of its Unix control socket) so that it replaces a dead predecessor at once;
   * without a run directory it only waits out the leases a predecessor left.
   */
  static VolumeExportProvider gatewayProvider(String storeUrl, String control, @Nullable Path runDir,
      String cacheSize, io.bucketdisk.store.StoreMetrics metrics) {
    return gatewayProvider(storeUrl, control, runDir, cacheSize, null, metrics);
  }

  /** As above, with {@code disk} (null: none) as the cache's disk tier. */
  static VolumeExportProvider gatewayProvider(String storeUrl, String control, @Nullable Path runDir,
      String cacheSize, @Nullable DiskTier disk, io.bucketdisk.store.StoreMetrics metrics) {
    CacheConfig config = cacheConfig(cacheSize);
    LeaseOwner owner = runDir == null ? LeaseOwner.instance(gatewayId(), control, java.util.Set.of())
        : InstanceLock.acquire(runDir, gatewayId(), control);
    try {
      return VolumeExportProvider.forStore(URI.create(storeUrl), owner, config, disk, null, metrics);
    } catch (IllegalArgumentException e) {
      throw new UserError("--store " + ObjectStores.redact(storeUrl) + ": " + e.getMessage());
    } catch (IOException e) {
      throw new UserError("--store " + ObjectStores.redact(storeUrl) + ": cannot open the store: " + e.getMessage());
    }
  }

  /** The dev provider: a directory store in {@code data} with volume {@code demo} created on first run. */
  static VolumeExportProvider devProvider(Path data, long demoSize, CacheConfig config) {
    return devProvider(data, demoSize, config, io.bucketdisk.store.StoreMetrics.NONE);
  }

  static VolumeExportProvider devProvider(Path data, long demoSize, CacheConfig config,
      io.bucketdisk.store.StoreMetrics metrics) {
    return devProvider(data, demoSize, config, null, metrics);
  }

  static VolumeExportProvider devProvider(Path data, long demoSize, CacheConfig config, @Nullable DiskTier disk,
      io.bucketdisk.store.StoreMetrics metrics) {
    Path dir = data.toAbsolutePath().normalize();
    try {
      Files.createDirectories(dir);
      LeaseOwner owner = InstanceLock.acquire(dir, "dev", "unix://" + dir.resolve("control.sock"));
      return VolumeExportProvider.forStore(dir.toUri(), owner, config, disk, VolumeSpec.of("demo", demoSize), metrics);
    } catch (IOException e) {
      throw new UserError("--data " + data + ": cannot use it as a store: " + e.getMessage());
    }
  }

  static CacheConfig cacheConfig(String cacheSize) {
    CacheConfig config;
    try {
      config = CacheConfig.ofSize(ByteSize.parse(cacheSize).bytes());
    } catch (IllegalArgumentException e) {
      throw new UserError("--cache-size: " + e.getMessage());
    }
    checkHeap(cacheSize, config.cacheBytes(), Runtime.getRuntime().maxMemory());
    return config;
  }

  /**
   * The disk tier of {@code --disk-cache DIR --disk-cache-size SIZE}: both or neither (null: none); one-line errors
   * for a missing directory, a bad size or too little free space.
   */
  static @Nullable DiskTier diskTier(@Nullable Path dir, @Nullable String size) {
    if (dir == null && size == null) {
      return null;
    }
    if (dir == null || size == null) {
      throw new UserError("--disk-cache and --disk-cache-size go together: give both (e.g. --disk-cache "
          + "/var/cache/bucketdisk --disk-cache-size 100Gi) or neither");
    }
    long bytes;
    try {
      bytes = ByteSize.parse(size).bytes();
    } catch (IllegalArgumentException e) {
      throw new UserError("--disk-cache-size: " + e.getMessage());
    }
    try {
      return DiskTier.open(dir, bytes);
    } catch (IllegalArgumentException e) {
      throw new UserError("--disk-cache " + dir + " --disk-cache-size " + size + ": " + e.getMessage());
    } catch (IOException e) {
      throw new UserError("--disk-cache " + dir + ": cannot create the cache file: " + e.getMessage());
    }
  }

  /** Heap the process needs beside its cache: requests, connections, the store client (measured: about 100 MiB). */
  static final long HEAP_OVERHEAD = 64L << 20;

  /**
   * Refuses a cache the JVM heap cannot hold (it would end in OutOfMemoryError under load): the launcher sizes -Xmx
   * from --cache-size, so this is a -Xmx set elsewhere.
   */
  static void checkHeap(String cacheSize, long cacheBytes, long maxHeap) {
    if (maxHeap != Long.MAX_VALUE && maxHeap < cacheBytes + HEAP_OVERHEAD) {
      throw new UserError("--cache-size " + cacheSize + " does not fit the JVM heap of " + (maxHeap >> 20) + " MiB: "
          + "remove the smaller -Xmx from JAVA_TOOL_OPTIONS or BUCKETDISK_JAVA_OPTS (the bucketdisk launcher sizes "
          + "the heap from --cache-size), or lower --cache-size");
    }
  }

  /** Starts the control API on {@code address} ({@code unix:///path} or {@code tcp://HOST:PORT}); stopped by a shutdown hook. */
  static void startControl(String address, VolumeRegistry volumes) {
    startControl(address, volumes, null);
  }

  /** As above; a TCP address serves mutual TLS with {@code tls} when given. */
  static void startControl(String address, VolumeRegistry volumes, io.bucketdisk.common.tls.@Nullable TlsFiles tls) {
    try {
      GatewayControlServer server = GatewayControlServer.start(address, volumes, tls);
      Runtime.getRuntime().addShutdownHook(new Thread(server::close, "bucketdisk-control-stop"));
    } catch (IllegalArgumentException e) {
      throw new UserError("--control " + e.getMessage());
    } catch (IOException e) {
      throw new UserError("--control " + address + ": " + e.getMessage());
    }
  }
}
