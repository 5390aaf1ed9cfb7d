package io.bucketdisk.nbd.cache;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.nbd.server.NbdListener;
import io.bucketdisk.nbd.server.ServerOptions;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeSpec;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * A gateway process for tests that kill it: serves every volume of the store URL {@code args[0]} (creating volume
 * {@code vol}, 32 MiB in 1 MiB chunks, if absent) on 127.0.0.1 and prints {@code READY <port>}; runs until
 * killed. Dirty chunks upload after 200 ms, so a kill lands at random points of the write-back.
 */
public final class GatewayMain {
  public static final String VOLUME = "vol";
  public static final long SIZE = 32L << 20;
  public static final int CHUNK = 1 << 20;

  private GatewayMain() {}

  public static void main(String[] args) throws Exception {
    URI store = URI.create(args[0]);
    // a log of 8 chunks is compacted: kills land during compactions too
    CacheConfig config = new CacheConfig(32L * CHUNK, 8L * CHUNK, CHUNK, 4, 4, 4, Duration.ofMillis(200),
        Duration.ofSeconds(60), Duration.ofSeconds(60), 8);
    var provider = VolumeExportProvider.forStore(store, new LeaseOwner("gw-test", "unix:///tmp/none.sock"), config,
        new VolumeSpec(VOLUME, SIZE, CHUNK, Map.of()));
    var listener = new NbdListener(provider, ServerOptions.defaults());
    var bound = (InetSocketAddress) listener.listen(new InetSocketAddress("127.0.0.1", 0));
    System.out.println("READY " + bound.getPort());
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
