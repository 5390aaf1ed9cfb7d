package io.bucketdisk.nbd;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ExportProvider;
import io.bucketdisk.nbd.export.MemoryExport;
import io.bucketdisk.nbd.export.MemoryExportProvider;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeSpec;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The exports {@link TestServer#defaultProvider} offers, served the way users get them: {@code demo} is a 64 MiB
 * volume in a directory store behind the write-back cache, {@code ro} is a read-only snapshot of a 1 MiB volume.
 * {@code aligned} (1 MiB, minimum block 4096) stays a memory export: store volumes have no minimum block size, and
 * the rules it covers are the server's request checks against advertised block sizes.
 */
public final class StoreExports implements ExportProvider {
  private static final String RO_SOURCE = "ro-source";
  private final VolumeExportProvider store;
  private final MemoryExportProvider aligned =
      new MemoryExportProvider(new MemoryExport("aligned", "4 KiB blocks", 1 << 20, false, 4096));
  private final Path dir;

  private StoreExports(VolumeExportProvider store, Path dir) {
    this.store = store;
    this.dir = dir;
  }

  /** The directory store's URL, for reading what it holds ({@code io.bucketdisk.nbd.durable.DurableImage}). */
  public URI url() {
    return dir.toUri();
  }

  /** A fresh directory store under /tmp with {@code demo} and the {@code ro} snapshot. */
  public static StoreExports create(long demoSize) throws IOException {
    Path dir = Files.createTempDirectory("bdstore");
    URI url = dir.toUri();
    // A loss window longer than any test: only FLUSH and FUA upload, so a check of the store after one is not
    // covered by the background write-back.
    var config = new CacheConfig(64L << 20, 16L << 20, 1 << 20, 4, 4, 4, Duration.ofSeconds(300),
        Duration.ofSeconds(30), Duration.ofSeconds(30));
    var provider = VolumeExportProvider.forStore(url, new LeaseOwner("gw-conformance", "none"), config,
        new VolumeSpec("demo", demoSize, 1 << 20, Map.of()));
    var catalog = provider.volumes().catalog().orElseThrow();
    catalog.create(new VolumeSpec(RO_SOURCE, 1 << 20, 1 << 20, Map.of()));
    catalog.snapshot(RO_SOURCE, "snap");
    return new StoreExports(provider, dir);
  }

  @Override
  public List<Listing> list() throws IOException {
    List<Listing> out = new ArrayList<>();
    for (Listing l : store.list()) {
      if (l.name().equals("demo")) {
        out.add(l);
      }
    }
    out.add(new Listing("ro", "read-only snapshot"));
    out.addAll(aligned.list());
    return out;
  }

  @Override
  public Optional<Export> open(String name) throws IOException {
    return switch (name) {
      case "demo" -> store.open("demo");
      case "ro" -> store.open(RO_SOURCE + "@snap");
      case "aligned" -> aligned.open("aligned");
      default -> Optional.empty();
    };
  }

  @Override
  public Optional<String> defaultExport() {
    return Optional.of("demo");
  }

  @Override
  public void close() throws IOException {
    store.close();
    aligned.close();
    try (var files = Files.walk(dir)) {
      for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
