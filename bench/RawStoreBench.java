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
 * The raw store figures bench/engine-bench.sh holds the 1 MiB sequential job against: PUTs, then GETs, of {@code
 * BYTES} in objects of {@code OBJECT_SIZE} through the project's own object store client (for s3:// the AWS SDK v2
 * client the gateway uses), {@code PARALLELISM} requests at a time, then deletes them; then {@link #SMALL_PUTS} PUTs
 * of {@link #SMALL_BYTES} one at a time, the floor under a FLUSH of one small write (one log segment PUT). Prints
 * {@code put_mib_s N}, {@code get_mib_s N}, {@code small_put_mean_us N} and {@code small_put_p99_us N}.
 *
 * <p>Usage: {@code RawStoreBench STORE_URL BYTES OBJECT_SIZE PARALLELISM} (run with Java's source launcher on the
 * gateway's class path).
 */
public final class RawStoreBench {
  static final int SMALL_PUTS = 1000;
  static final int SMALL_BYTES = 8 << 10;

  private RawStoreBench() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 4) {
      System.err.println("usage: RawStoreBench STORE_URL BYTES OBJECT_SIZE PARALLELISM");
      System.exit(2);
    }
    URI url = URI.create(args[0]);
    long bytes = Long.parseLong(args[1]);
    int objectSize = Integer.parseInt(args[2]);
    int parallel = Integer.parseInt(args[3]);
    int objects = (int) Math.max(1, bytes / objectSize);
    byte[] payload = new byte[objectSize];
    ThreadLocalRandom.current().nextBytes(payload);
    try (ObjectStore store = ObjectStores.open(url, StoreMetrics.NONE);
        ExecutorService pool = Executors.newFixedThreadPool(parallel)) {
      List<Future<?>> done = new ArrayList<>();
      long t0 = System.nanoTime();
      for (int i = 0; i < objects; i++) {
        String key = "raw-bench/" + i;
        done.add(pool.submit(() -> store.put(key, ByteBuffer.wrap(payload))));
      }
      waitAll(done);
      double put = (double) objects * objectSize / (1 << 20) / ((System.nanoTime() - t0) / 1e9);
      done.clear();
      t0 = System.nanoTime();
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
      double get = (double) objects * objectSize / (1 << 20) / ((System.nanoTime() - t0) / 1e9);
      List<String> keys = new ArrayList<>();
      for (int i = 0; i < objects; i++) {
        keys.add("raw-bench/" + i);
      }
      store.delete(keys);
      long[] small = smallPuts(store);
      System.out.printf("put_mib_s %.1f%nget_mib_s %.1f%n", put, get);
      System.out.printf("small_put_mean_us %.1f%nsmall_put_p99_us %.1f%n",
          java.util.Arrays.stream(small).average().orElse(0) / 1e3, small[small.length * 99 / 100] / 1e3);
    }
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
