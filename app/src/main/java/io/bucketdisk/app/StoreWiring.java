package io.bucketdisk.app;

import io.bucketdisk.store.object.ObjectStores;
import io.bucketdisk.common.size.ByteSize;
import io.bucketdisk.engine.cache.CacheConfig;
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

  /** The lease owner id of this gateway: {@code $NODE_NAME} (Kubernetes), else the host name. */
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

  static VolumeExportProvider gatewayProvider(String storeUrl, String control, String cacheSize,
      io.bucketdisk.store.StoreMetrics metrics) {
    CacheConfig config = cacheConfig(cacheSize);
    try {
      return VolumeExportProvider.forStore(URI.create(storeUrl), new LeaseOwner(gatewayId(), control), config, null,
          metrics);
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
    Path dir = data.toAbsolutePath().normalize();
    try {
      Files.createDirectories(dir);
      return VolumeExportProvider.forStore(dir.toUri(), new LeaseOwner("dev", "unix://" + dir.resolve("control.sock")),
          config, VolumeSpec.of("demo", demoSize), metrics);
    } catch (IOException e) {
      throw new UserError("--data " + data + ": cannot use it as a store: " + e.getMessage());
    }
  }

  static CacheConfig cacheConfig(String cacheSize) {
    try {
      return CacheConfig.ofSize(ByteSize.parse(cacheSize).bytes());
    } catch (IllegalArgumentException e) {
      throw new UserError("--cache-size: " + e.getMessage());
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
