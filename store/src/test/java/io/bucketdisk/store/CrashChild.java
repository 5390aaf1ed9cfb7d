package io.bucketdisk.store;

import io.bucketdisk.store.object.DirectoryObjectStore;
import io.bucketdisk.store.object.ObjectStoreException;
import io.bucketdisk.store.object.WriteCondition;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** The other process of {@link CrashIT}: writes chunks and reports each acknowledged one, or races for keys. */
public final class CrashChild {
  static final int CHUNK = 64 << 10;

  private CrashChild() {}

  static ByteBuffer content(long i) {
    byte[] b = new byte[CHUNK];
    new Random(i * 31 + 7).nextBytes(b);
    return ByteBuffer.wrap(b);
  }

  static CatalogOptions options() {
    // long enough that a renewal on this loaded 2-core machine does not miss it (that would fence the writer)
    return CatalogOptions.defaults().withLeaseDuration(Duration.ofSeconds(4)).withClockSkew(Duration.ofMillis(200));
  }

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[1]);
    switch (args[0]) {
      case "write" -> {
        int count = Integer.parseInt(args[3]);
        var store = new DirectoryObjectStore(dir, true, StoreMetrics.NONE);
        var catalog = new VolumeCatalog(store, options());
        ChunkStore cs = catalog.open(args[2], new LeaseOwner("child", "pid:" + ProcessHandle.current().pid()), false);
        for (int i = 0; i < count; i++) {
          cs.write(i, content(i));
          System.out.println("ACK " + i);
          System.out.flush();
        }
        System.out.println("DONE");
        System.out.flush();
        Thread.sleep(Duration.ofMinutes(5)); // until killed
      }
      case "race" -> {
        var store = new DirectoryObjectStore(dir, false, StoreMetrics.NONE);
        List<Integer> keys = new ArrayList<>();
        for (int k = 0; k < Integer.parseInt(args[2]); k++) {
          keys.add(k);
        }
        // both processes walk the same keys in the same order from the same moment, to collide on every key
        System.out.println("READY");
        System.out.flush();
        Path go = dir.resolve("go");
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!java.nio.file.Files.exists(go) && System.nanoTime() < deadline) {
          Thread.onSpinWait();
        }
        int wins = 0;
        byte[] me = args[3].getBytes(StandardCharsets.UTF_8);
        for (int k : keys) {
          try {
            store.put("race/" + k, ByteBuffer.wrap(me), WriteCondition.ifNoneMatch());
            wins++;
          } catch (ObjectStoreException e) {
            if (!e.isPrecondition()) {
              throw e;
            }
          }
        }
        System.out.println("WINS " + wins);
        System.out.flush();
        store.close();
      }
      default -> throw new IllegalArgumentException(args[0]);
    }
  }
}
