package io.bucketdisk.node.vm;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.nbd.server.NbdListener;
import io.bucketdisk.nbd.server.ServerOptions;
import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.VolumeSpec;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;

/**
 * The project's own gateway on the host for VM tests: {@link NbdListener} on 127.0.0.1 serving every volume of
 * a directory store ({@code file://}) through the real write-back chunk cache. {@link #restart()} is a clean
 * stop (listener closed, cache flushed, provider closed) and a fresh start on the same port; the store is all
 * that carries over. Volumes are created and resized through the store catalog, as the controller would.
 */
public final class HostGateway implements AutoCloseable {
  public static final int CHUNK = 1 << 20;
  /**
   * No shutdown grace: the kernel never disconnects on its own, and a lame-duck gateway answers its requests
   * with ESHUTDOWN, which the kernel turns into EIO for the application. Closing at once makes the kernel
   * resend them on the reattached connections instead.
   */
  private static final ServerOptions OPTIONS = ServerOptions.defaults().withShutdownGrace(Duration.ZERO);
  private final ServerOptions options;
  private final Path storeDir;
  private final URI store;
  private final VolumeCatalog catalog;
  private VolumeExportProvider provider;
  private NbdListener listener;
  private final int port;

  public HostGateway(Path storeDir) throws IOException {
    this(storeDir, null);
  }

  /**
   * As above; with {@code tls} (the gateway's certificate and the client CA) the TCP listener is mutual TLS and a
   * node may open only the volumes {@link #publish published} to the name in its certificate.
   */
  public HostGateway(Path storeDir, io.bucketdisk.common.tls.@org.jspecify.annotations.Nullable TlsFiles tls)
      throws IOException {
    this.storeDir = storeDir;
    Files.createDirectories(storeDir);
    this.store = storeDir.toUri();
    this.catalog = VolumeCatalog.open(store, CatalogOptions.defaults());
    this.options = tls == null ? OPTIONS : OPTIONS.withTls(tls.context(), false)
        .withClientCertificates(tls.context(), new io.bucketdisk.nbd.access.PublicationAccess(catalog));
    provider = newProvider();
    listener = new NbdListener(provider, options);
    port = ((InetSocketAddress) listener.listen(new InetSocketAddress("127.0.0.1", 0))).getPort();
  }

  private VolumeExportProvider newProvider() throws IOException {
    var cache = new CacheConfig(64L * CHUNK, 24L * CHUNK, CHUNK, 4, 4, 2, Duration.ofSeconds(5),
        Duration.ofSeconds(30), Duration.ofSeconds(30));
    return VolumeExportProvider.forStore(store, new LeaseOwner("vm-test-gateway", "unix:///tmp/none.sock"), cache, null);
  }

  /** Creates a volume of {@code size} bytes (1 MiB chunks), served as export {@code name}. */
  public void addVolume(String name, long size) throws IOException {
    catalog.create(new VolumeSpec(name, size, CHUNK, java.util.Map.of()));
  }

  /** Records the volume as published to {@code node}, as ControllerPublishVolume does. */
  public void publish(String name, String node) throws IOException {
    catalog.publish(name, node, false);
  }

  /** The first {@code length} bytes of volume {@code name}, read through the gateway's own export. */
  public byte[] read(String name, int length) throws IOException {
    try (var export = provider.open(name).orElseThrow()) {
      var buf = java.nio.ByteBuffer.allocate(length);
      export.read(0, buf, 0);
      return buf.array();
    }
  }

  /** Grows a volume in the store and tells the running gateway, as ControllerExpandVolume does. */
  public void resize(String name, long size) throws IOException {
    catalog.resize(name, size);
    provider.volumes().refreshVolume(name);
  }

  /** Bytes of the chunk objects and write-log segments the store holds for {@code name}. */
  public long storedBytes(String name) throws IOException {
    try (Stream<Path> files = Files.walk(storeDir)) {
      return files.filter(Files::isRegularFile)
          .filter(p -> p.toString().contains("/volumes/" + name + "/chunks/")
              || p.toString().contains("/volumes/" + name + "/log/"))
          .mapToLong(p -> p.toFile().length()).sum();
    }
  }

  /** NBD connections the gateway has open for {@code name} (0 when the volume is not open). */
  public int connections(String name) {
    return provider.volumes().openVolumes().stream().filter(v -> v.name().equals(name))
        .mapToInt(io.bucketdisk.engine.volume.VolumeRegistry.OpenVolume::connections).sum();
  }

  public int port() {
    return port;
  }

  /** Clean stop, then start again on the same port. */
  public void restart() throws IOException {
    listener.stop();
    provider.close();
    provider = newProvider();
    listener = new NbdListener(provider, options);
    listener.listen(new InetSocketAddress("127.0.0.1", port));
  }

  @Override
  public void close() throws IOException {
    listener.stop();
    provider.close();
    catalog.close();
  }
}
