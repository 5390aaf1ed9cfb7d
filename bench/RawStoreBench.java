import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.object.ObjectStore;
import io.bucketdisk.store.object.ObjectStores;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The raw store figures bench/engine-bench.sh holds the 1 MiB sequential jobs against, through the project's own
 * object store client (for s3:// the AWS SDK v2 client the gateway uses), {@code PARALLELISM} requests at a time, in
 * objects of {@code OBJECT_SIZE}: PUTs of {@code BYTES}, then two passes of GETs of them (the first in a runtime that
 * has only PUT so far, the second warm), then {@link #SMALL_PUTS} PUTs of {@link #SMALL_BYTES} one at a time, the
 * floor under a FLUSH of one small write (one log segment PUT). Prints {@code put_mib_s N}, {@code get_mib_s N},
 * {@code get_again_mib_s N}, {@code small_put_mean_us N} and {@code small_put_p99_us N}, and leaves the objects.
 *
 * <p>With {@code fresh-get} after the four arguments, it only GETs the objects a run before it left, as the first
 * thing a new process does (the figure a fresh gateway's cold read compares with), prints {@code fresh_get_mib_s N}
 * and deletes them.
 *
 * <p>Usage: {@code RawStoreBench STORE_URL BYTES OBJECT_SIZE PARALLELISM [fresh-get]} (run with Java's source
 * launcher on the gateway's class path).
 */
public final class RawStoreBench {
  static final int SMALL_PUTS = 1000;
  static final int SMALL_BYTES = 8 << 10;

  private RawStoreBench() {}

  public static void main(String[] args) throws Exception {
    boolean freshGet = args.length == 5 && args[4].equals("fresh-get");
    if (args.length != 4 && !freshGet) {
      System.err.println("usage: RawStoreBench STORE_URL BYTES OBJECT_SIZE PARALLELISM [fresh-get]");
      System.exit(2);
    }
    URI url = URI.create(args[0]);
    long bytes = Long.parseLong(args[1]);
    int objectSize = Integer.parseInt(args[2]);
    int parallel = Integer.parseInt(args[3]);
    int objects = (int) Math.max(1, bytes / objectSize);
    try (ObjectStore store = ObjectStores.open(url, StoreMetrics.NONE);
        ExecutorService pool = Executors.newFixedThreadPool(parallel)) {
      if (freshGet) {
        System.out.printf("fresh_get_mib_s %.1f%n", getAll(store, pool, objects, objectSize));
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < objects; i++) {
          keys.add("raw-bench/" + i);
        }
        store.delete(keys);
        return;
      }
      byte[] payload = new byte[objectSize];
      ThreadLocalRandom.current().nextBytes(payload);
      List<Future<?>> done = new ArrayList<>();
      long t0 = System.nanoTime();
      for (int i = 0; i < objects; i++) {
        String key = "raw-bench/" + i;
        done.add(pool.submit(() -> store.put(key, ByteBuffer.wrap(payload))));
      }
      waitAll(done);
      double put = (double) objects * objectSize / (1 << 20) / ((System.nanoTime() - t0) / 1e9);
      double get = getAll(store, pool, objects, objectSize);
      double again = getAll(store, pool, objects, objectSize);
      long[] small = smallPuts(store);
      System.out.printf("put_mib_s %.1f%nget_mib_s %.1f%nget_again_mib_s %.1f%n", put, get, again);
      System.out.printf("small_put_mean_us %.1f%nsmall_put_p99_us %.1f%n",
          java.util.Arrays.stream(small).average().orElse(0) / 1e3, small[small.length * 99 / 100] / 1e3);
    }
  }

  /** GETs objects {@code raw-bench/0..objects-1} whole, each into a new buffer; MiB/s. */
  private static double getAll(ObjectStore store, ExecutorService pool, int objects, int objectSize)
      throws Exception {
    List<Future<?>> done = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int i = 0; i < objects; i++) {
      String key = "raw-bench/" + i;
      done.add(pool.submit(() -> {
        ByteBuffer b = ByteBuffer.allocate(objectSize);
        if (store.read(key, 0, b) != objectSize) {
          throw new IllegalStateException("short read of " + key);
        }
        return null;
      }));
    }
    waitAll(done);
    return (double) objects * objectSize / (1 << 20) / ((System.nanoTime() - t0) / 1e9);
  }

  /** Sorted latencies (ns) of SMALL_PUTS sequential PUTs of SMALL_BYTES (64 keys), after 50 unmeasured ones. */
  private static long[] smallPuts(ObjectStore store) throws Exception {
    byte[] payload = new byte[SMALL_BYTES];
    ThreadLocalRandom.current().nextBytes(payload);
    long[] ns = new long[SMALL_PUTS];
    for (int i = -50; i < SMALL_PUTS; i++) {
      long t = System.nanoTime();
      store.put("raw-bench/small-" + (i & 63), ByteBuffer.wrap(payload));
      if (i >= 0) {
        ns[i] = System.nanoTime() - t;
      }
    }
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      keys.add("raw-bench/small-" + i);
    }
    store.delete(keys);
    java.util.Arrays.sort(ns);
    return ns;
  }

  private static void waitAll(List<Future<?>> futures) throws Exception {
    for (Future<?> f : futures) {
      f.get();
    }
  }
}
