package io.bucketdisk.node.vm;

import io.bucketdisk.nbd.cache.CacheConfig;
import io.bucketdisk.nbd.cache.ChunkCache;
import io.bucketdisk.nbd.cache.MemoryChunkStore;
import io.bucketdisk.nbd.cache.MemoryVolumeSource;
import io.bucketdisk.nbd.cache.VolumeExportProvider;
import io.bucketdisk.nbd.server.NbdListener;
import io.bucketdisk.nbd.server.ServerOptions;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * The project's own gateway on the host for VM tests: {@link NbdListener} on 127.0.0.1 over the real
 * write-back {@link ChunkCache} and {@link VolumeExportProvider}, backed by in-memory chunk stores (the
 * gateway test-jar's {@link MemoryChunkStore}) that outlive a gateway restart. {@link #restart()} is a clean
 * stop (listener closed, cache flushed to the store, provider closed) and a fresh start on the same port.
 */
public final class HostGateway implements AutoCloseable {
  public static final int CHUNK = 1 << 20;
  /**
   * No shutdown grace: the kernel never disconnects on its own, and a lame-duck gateway answers its requests
   * with ESHUTDOWN, which the kernel turns into EIO for the application. Closing at once makes the kernel
   * resend them on the reattached connections instead.
   */
  private static final ServerOptions OPTIONS = new ServerOptions(null, false, 256, 128 << 20, Duration.ZERO);
  private final MemoryVolumeSource source = new MemoryVolumeSource();
  private VolumeExportProvider provider;
  private NbdListener listener;
  private final int port;

  public HostGateway() throws IOException {
    provider = newProvider();
    listener = new NbdListener(provider, OPTIONS);
    port = ((InetSocketAddress) listener.listen(new InetSocketAddress("127.0.0.1", 0))).getPort();
  }

  private VolumeExportProvider newProvider() {
    var cache = new ChunkCache(new CacheConfig(64L * CHUNK, 24L * CHUNK, CHUNK, 4, 4, 2, Duration.ofSeconds(5),
        Duration.ofSeconds(30), Duration.ofSeconds(30)));
    return new VolumeExportProvider(source, cache, null);
  }

  /** Adds a volume of {@code size} bytes, served as export {@code name}. */
  public MemoryChunkStore addVolume(String name, long size) {
    return source.add(name, size, CHUNK);
  }

  public MemoryChunkStore store(String name) {
    return source.stores.get(name);
  }

  /** NBD connections the gateway has open for {@code name} (0 when the volume is not open). */
  public int connections(String name) {
    return provider.openVolumes().stream().filter(v -> v.name().equals(name))
        .mapToInt(VolumeExportProvider.OpenVolume::connections).sum();
  }

  public int port() {
    return port;
  }

  /** Clean stop, then start again on the same port. */
  public void restart() throws IOException {
    listener.stop();
    provider.close();
    provider = newProvider();
    listener = new NbdListener(provider, OPTIONS);
    listener.listen(new InetSocketAddress("127.0.0.1", port));
  }

  @Override
  public void close() throws IOException {
    listener.stop();
    provider.close();
  }
}
