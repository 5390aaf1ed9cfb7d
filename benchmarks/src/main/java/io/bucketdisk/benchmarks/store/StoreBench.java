package io.bucketdisk.benchmarks.store;

import io.bucketdisk.common.size.ByteSize;
import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.engine.VolumeCounters;
import io.bucketdisk.nbd.export.VolumeExport;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.server.NbdListener;
import io.bucketdisk.nbd.server.ServerOptions;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.VolumeSpec;
import io.bucketdisk.store.object.ObjectStore;
import io.bucketdisk.store.object.ObjectStores;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The store-path benchmark (not a test): raw S3 PUT/GET throughput of the AWS SDK store at a given parallelism,
 * then the same bytes through the gateway (real NBD server, {@code nbdcopy}) — write+flush and a cold sequential
 * read — and prints the ratios, store requests per GiB written, and resident memory against the cache size. Then a
 * timed {@code fio} 4k random-write job (nbd engine) over a range of the written volume, with a final FLUSH, gives
 * the write amplification: bytes PUT / bytes written. Request counts come from the store's own metrics
 * ({@link StoreMetrics}: object requests as sent, retries included).
 *
 * <p>Usage: {@code StoreBench STORE_URL SOURCE_FILE [PARALLELISM] [CACHE_SIZE] [RANDWRITE_SECONDS]
 * [RANDWRITE_RANGE]}; the source file's size is the volume size (a multiple of 4 MiB); 0 seconds skips fio.
 */
public final class StoreBench {
  private static final int CHUNK = 4 << 20;

  private StoreBench() {}

  public static void main(String[] args) throws Exception {
    URI url = URI.create(args[0]);
    Path source = Path.of(args[1]);
    int parallel = args.length > 2 ? Integer.parseInt(args[2]) : 8;
    long cacheBytes = args.length > 3 ? ByteSize.parse(args[3]).bytes() : 512L << 20;
    int randSeconds = args.length > 4 ? Integer.parseInt(args[4]) : 60;
    long randRange = args.length > 5 ? ByteSize.parse(args[5]).bytes() : 128L << 20;
    long size = Files.size(source);
    int chunks = (int) (size / CHUNK);
    double gib = size / (double) (1L << 30);
    System.out.printf("volume %d MiB in %d chunks of 4 MiB, parallelism %d, cache %d MiB, %d CPUs%n", size >> 20,
        chunks, parallel, cacheBytes >> 20, Runtime.getRuntime().availableProcessors());

    // 1. raw store: PUT and GET the same bytes with the same SDK client and parallelism
    double rawPut;
    double rawGet;
    try (ObjectStore os = ObjectStores.open(url, StoreMetrics.NONE);
        ExecutorService pool = Executors.newFixedThreadPool(parallel)) {
      long t0 = System.nanoTime();
      List<Future<?>> fs = new ArrayList<>();
      try (java.nio.channels.FileChannel file = java.nio.channels.FileChannel.open(source)) {
        for (int i = 0; i < chunks; i++) {
          int idx = i;
          fs.add(pool.submit(() -> {
            ByteBuffer b = ByteBuffer.allocate(CHUNK);
            file.read(b, (long) idx * CHUNK);
            return os.put("raw/" + idx, b.flip());
          }));
        }
        for (Future<?> f : fs) {
          f.get();
        }
      }
      for (Future<?> f : fs) {
        f.get();
      }
      rawPut = size / 1048576.0 / ((System.nanoTime() - t0) / 1e9);
      fs.clear();
      t0 = System.nanoTime();
      for (int i = 0; i < chunks; i++) {
        int idx = i;
        fs.add(pool.submit(() -> {
          ByteBuffer b = ByteBuffer.allocate(CHUNK);
          os.read("raw/" + idx, 0, b);
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
      rawGet = size / 1048576.0 / ((System.nanoTime() - t0) / 1e9);
      for (int i = 0; i < chunks; i++) {
        os.delete("raw/" + i);
      }
    }
    System.out.printf("raw store   PUT %8.1f MiB/s   GET %8.1f MiB/s%n", rawPut, rawGet);

    // 2. through the gateway: nbdcopy --flush in (write+flush), then a cold sequential read with a fresh cache
    CacheConfig config = new CacheConfig(cacheBytes, Math.max(2L * CHUNK, (cacheBytes - 2L * parallel * CHUNK) / 2),
        CHUNK, parallel, parallel, parallel, java.time.Duration.ofSeconds(3), java.time.Duration.ofMinutes(2),
        java.time.Duration.ofMinutes(2));
    VolumeSpec spec = new VolumeSpec("bench", size, CHUNK, Map.of());
    LeaseOwner owner = new LeaseOwner("bench", "none");
    double write;
    long puts;
    long storeRequestsWrite;
    long maxRss = 0;
    Counting writeOps = new Counting();
    try (VolumeExportProvider p = VolumeExportProvider.forStore(url, owner, config, spec, writeOps)) {
      NbdListener l = new NbdListener(p, ServerOptions.defaults());
      int port = ((InetSocketAddress) l.listen(new InetSocketAddress("127.0.0.1", 0))).getPort();
      try (Export keep = p.open("bench").orElseThrow()) {
        VolumeCounters c = ((VolumeExport) keep).volume().counters();
        long t0 = System.nanoTime();
        Process cp = new ProcessBuilder("nbdcopy", "-C", "4", "--flush", source.toString(),
            "nbd://127.0.0.1:" + port + "/bench").inheritIO().start();
        maxRss = Math.max(maxRss, waitSampling(cp, p));
        write = size / 1048576.0 / ((System.nanoTime() - t0) / 1e9);
        puts = c.puts();
        storeRequestsWrite = c.puts() + c.gets() + c.rangeGets() + c.deleteRequests();
      }
      l.stop();
    }
    double read;
    long gets;
    Counting readOps = new Counting();
    try (VolumeExportProvider p = VolumeExportProvider.forStore(url, owner, config, null, readOps)) {
      NbdListener l = new NbdListener(p, ServerOptions.defaults());
      int port = ((InetSocketAddress) l.listen(new InetSocketAddress("127.0.0.1", 0))).getPort();
      try (Export keep = p.open("bench").orElseThrow()) {
        VolumeCounters c = ((VolumeExport) keep).volume().counters();
        long t0 = System.nanoTime();
        Process cp = new ProcessBuilder("nbdcopy", "-C", "4", "nbd://127.0.0.1:" + port + "/bench", "null:")
            .inheritIO().start();
        maxRss = Math.max(maxRss, waitSampling(cp, p));
        read = size / 1048576.0 / ((System.nanoTime() - t0) / 1e9);
        gets = c.gets();
      }
      l.stop();
    }
    long objectGetsRead = readOps.get(StoreMetrics.Op.GET);
    System.out.printf("gateway     write+flush %8.1f MiB/s   cold read %8.1f MiB/s%n", write, read);
    System.out.printf("ratio       write+flush/raw PUT %.2f   cold read/raw GET %.2f   (target >= 0.8)%n",
        write / rawPut, read / rawGet);
    System.out.printf("requests    %d PUTs for %d dirty chunks (%.0f PUTs/GiB, %.0f store requests/GiB written);"
        + " %d chunk GETs for the cold read of %d chunks (%.3f per chunk)%n", puts, chunks, puts / gib,
        storeRequestsWrite / gib, gets, chunks, gets / (double) chunks);
    System.out.printf("store       object requests (store metrics): write phase PUT %d GET %d HEAD %d LIST %d;"
        + " cold read GET %d HEAD %d LIST %d%n", writeOps.get(StoreMetrics.Op.PUT), writeOps.get(StoreMetrics.Op.GET),
        writeOps.get(StoreMetrics.Op.HEAD), writeOps.get(StoreMetrics.Op.LIST), objectGetsRead,
        readOps.get(StoreMetrics.Op.HEAD), readOps.get(StoreMetrics.Op.LIST));
    System.out.printf("memory      cache held at most %d MiB of its %d MiB bound; process max RSS %d MiB"
        + " (JVM heap max %d MiB)%n", maxCache >> 20, cacheBytes >> 20, maxRss >> 20,
        Runtime.getRuntime().maxMemory() >> 20);
    if (randSeconds > 0) {
      randomWrite(url, owner, config, Math.min(randRange, size), randSeconds);
    }
  }

  /**
   * fio 4k random writes, QD 32, for {@code seconds} over the first {@code range} bytes of the (fully written)
   * volume through a fresh cache, then a FLUSH; prints bytes PUT / bytes written and the request counts.
   */
  private static void randomWrite(URI url, LeaseOwner owner, CacheConfig config, long range, int seconds)
      throws Exception {
    Counting ops = new Counting();
    try (VolumeExportProvider p = VolumeExportProvider.forStore(url, owner, config, null, ops)) {
      NbdListener l = new NbdListener(p, ServerOptions.defaults());
      int port = ((InetSocketAddress) l.listen(new InetSocketAddress("127.0.0.1", 0))).getPort();
      try (Export keep = p.open("bench").orElseThrow()) {
        VolumeCounters c = ((VolumeExport) keep).volume().counters();
        long baseGets = ops.get(StoreMetrics.Op.GET);
        Process fio = new ProcessBuilder("fio", "--name=randwrite", "--ioengine=nbd",
            "--uri=nbd://127.0.0.1:" + port + "/bench", "--rw=randwrite", "--bs=4k", "--iodepth=32",
            "--size=" + range, "--time_based", "--runtime=" + seconds, "--output-format=json")
            .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String json = new String(fio.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (fio.waitFor() != 0) {
          throw new IllegalStateException("fio failed with exit " + fio.exitValue());
        }
        long t0 = System.nanoTime();
        keep.flush(0);
        double flushSeconds = (System.nanoTime() - t0) / 1e9;
        java.util.regex.Matcher m = java.util.regex.Pattern
            .compile("\"write\"\\s*:\\s*\\{\\s*\"io_bytes\"\\s*:\\s*(\\d+)").matcher(json);
        if (!m.find()) {
          throw new IllegalStateException("no write io_bytes in fio output: " + json);
        }
        long written = Long.parseLong(m.group(1));
        long up = ops.bytesUp.sum();
        System.out.printf("randwrite   fio 4k QD32 %ds over %d MiB: %.0f IOPS, %d MiB written; then FLUSH %.1f s%n",
            seconds, range >> 20, written / 4096.0 / seconds, written >> 20, flushSeconds);
        System.out.printf("write amp   %.1f (bytes PUT %d MiB / bytes written %d MiB): %d PUTs (%.2f/s), %d object"
            + " GETs for merges (%d MiB down), cache counters PUT %d GET %d ranged GET %d%n", up / (double) written,
            up >> 20, written >> 20, ops.get(StoreMetrics.Op.PUT), ops.get(StoreMetrics.Op.PUT) / (double) seconds,
            ops.get(StoreMetrics.Op.GET) - baseGets, ops.bytesDown.sum() >> 20, c.puts(), c.gets(), c.rangeGets());
      }
      l.stop();
    }
  }

  /** The store's request counters for one phase. */
  private static final class Counting implements StoreMetrics {
    private final java.util.concurrent.atomic.LongAdder[] requests =
        new java.util.concurrent.atomic.LongAdder[Op.values().length];
    final java.util.concurrent.atomic.LongAdder bytesUp = new java.util.concurrent.atomic.LongAdder();
    final java.util.concurrent.atomic.LongAdder bytesDown = new java.util.concurrent.atomic.LongAdder();

    Counting() {
      for (int i = 0; i < requests.length; i++) {
        requests[i] = new java.util.concurrent.atomic.LongAdder();
      }
    }

    long get(Op op) {
      return requests[op.ordinal()].sum();
    }

    @Override
    public void request(Op op, long nanos) {
      requests[op.ordinal()].increment();
    }

    @Override
    public void bytesUp(long bytes) {
      bytesUp.add(bytes);
    }

    @Override
    public void bytesDown(long bytes) {
      bytesDown.add(bytes);
    }
  }

  private static long maxCache;

  /**
   * Waits for {@code p}, sampling this JVM's resident set size and the cache's resident bytes; returns the maximum
   * RSS seen, in bytes.
   */
  private static long waitSampling(Process p, VolumeExportProvider provider) throws Exception {
    long max = 0;
    while (!p.waitFor(100, TimeUnit.MILLISECONDS)) {
      max = Math.max(max, rss());
      maxCache = Math.max(maxCache, provider.volumes().chunkCache().residentBytes());
    }
    if (p.exitValue() != 0) {
      throw new IllegalStateException("nbdcopy failed with exit " + p.exitValue());
    }
    return Math.max(max, rss());
  }

  private static long rss() throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    return 0;
  }
}
