package io.bucketdisk.nbd.access;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.nbd.server.NbdListener;
import io.bucketdisk.nbd.server.ServerOptions;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeSpec;
import io.bucketdisk.testing.Tool;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * MULTI_NODE_READER_ONLY as the nodes get it: each node's own gateway (its own process, its own lease owner id, one
 * store) serves {@code <volume>@}, the volume's data read-only without the writer's lease, so any number of nodes read
 * the same image at once; qemu-io on each node's Unix socket reads what a writer stored before, and cannot write. While a
 * gateway holds the writer's lease, the read-only view is refused (the image would not be consistent).
 */
@Timeout(180)
class ReadOnlyManyIT {
  final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (var c : open.reversed()) {
      c.close();
    }
  }

  /** A node's gateway over the shared store: its own lease owner, its own Unix socket. */
  Path gateway(Path store, String node, Path dir) throws Exception {
    var config = new CacheConfig(64L << 20, 16L << 20, 1 << 20, 4, 4, 4, Duration.ofSeconds(3),
        Duration.ofSeconds(30), Duration.ofSeconds(30));
    var provider = VolumeExportProvider.forStore(store.toUri(), new LeaseOwner(node, "none"), config, null);
    var listener = new NbdListener(provider, ServerOptions.defaults());
    Path socket = dir.resolve(node + ".sock");
    listener.listen(UnixDomainSocketAddress.of(socket));
    open.add(provider);
    open.add(listener::stop);
    return socket;
  }

  static String uri(Path socket, String export) {
    return "nbd+unix:///" + export + "?socket=" + socket;
  }

  @Test
  void everyNodeReadsTheSameImageFromItsOwnGatewayWithoutTheLease() throws Exception {
    Tool.require("qemu-io");
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "bdrox");
    Path store = Files.createDirectories(dir.resolve("store"));
    Path writer = gateway(store, "node-w", dir);
    Path reader1 = gateway(store, "node-1", dir);
    Path reader2 = gateway(store, "node-2", dir);
    var catalog = io.bucketdisk.store.VolumeCatalog.open(store.toUri(), io.bucketdisk.store.CatalogOptions.defaults());
    open.add(catalog);
    catalog.create(new VolumeSpec("rox", 8 << 20, 1 << 20, Map.of()));

    // The writer fills it and lets go (qemu-io exits: last connection, flush, lease released).
    Tool.run("qemu-io", "-f", "raw", uri(writer, "rox"), "-c", "write -P 0x42 0 2M", "-c", "write -P 0x43 4M 1M")
        .ok();
    awaitNoLease(catalog);

    // Both readers at once: one qemu-io each, started together, each holding its connection while it reads.
    var p1 = new ProcessBuilder("qemu-io", "-r", "-f", "raw", uri(reader1, "rox@"), "-c", "read -P 0x42 0 2M",
        "-c", "read -P 0x43 4M 1M", "-c", "read -P 0 6M 2M").redirectErrorStream(true).start();
    var p2 = new ProcessBuilder("qemu-io", "-r", "-f", "raw", uri(reader2, "rox@"), "-c", "read -P 0x42 0 2M",
        "-c", "read -P 0x43 4M 1M").redirectErrorStream(true).start();
    for (var p : List.of(p1, p2)) {
      String out = new String(p.getInputStream().readAllBytes());
      assertThat(p.waitFor()).as(out).isZero();
      assertThat(out).doesNotContain("Pattern verification failed");
    }
    assertThat(catalog.get("rox").orElseThrow().lease()).as("readers take no lease").isNull();
    // Read-only: a write through the reader's export fails, and the data stays.
    var w = Tool.run("qemu-io", "-f", "raw", uri(reader1, "rox@"), "-c", "write -P 0x66 0 64k");
    assertThat(w.exit()).isNotZero(); // the export says READ_ONLY, so qemu will not even open it writable
    assertThat(w.out() + w.err()).contains("Permission denied");
    Tool.run("qemu-io", "-r", "-f", "raw", uri(reader2, "rox@"), "-c", "read -P 0x42 0 64k").ok();

    // A gateway writing the volume: the read-only view is refused rather than served inconsistent.
    var held = new ProcessBuilder("qemu-io", "-f", "raw", uri(writer, "rox"), "-c", "sleep 4000")
        .redirectErrorStream(true).start();
    try {
      awaitLease(catalog);
      var refused = Tool.run("qemu-io", "-r", "-f", "raw", uri(reader1, "rox@"), "-c", "read 0 4k");
      assertThat(refused.exit()).isNotZero();
      assertThat(refused.out() + refused.err()).contains("being written by gateway node-w");
    } finally {
      held.waitFor();
    }
  }

  static void awaitNoLease(io.bucketdisk.store.VolumeCatalog catalog) throws Exception {
    for (int i = 0; i < 200 && catalog.get("rox").orElseThrow().lease() != null; i++) {
      Thread.sleep(50);
    }
    assertThat(catalog.get("rox").orElseThrow().lease()).isNull();
  }

  static void awaitLease(io.bucketdisk.store.VolumeCatalog catalog) throws Exception {
    for (int i = 0; i < 200 && catalog.get("rox").orElseThrow().lease() == null; i++) {
      Thread.sleep(50);
    }
    assertThat(catalog.get("rox").orElseThrow().lease()).isNotNull();
  }
}
