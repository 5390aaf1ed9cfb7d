package io.bucketdisk.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.store.object.DirectoryObjectStore;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** What the store reports to {@link StoreMetrics} for chunk traffic. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class StoreMetricsTest {
  @TempDir Path dir;

  static final class Counting implements StoreMetrics {
    final Map<Op, AtomicLong> requests = new EnumMap<>(Op.class);
    final AtomicLong up = new AtomicLong();
    final AtomicLong down = new AtomicLong();

    Counting() {
      for (Op op : Op.values()) {
        requests.put(op, new AtomicLong());
      }
    }

    @Override
    public void request(Op op, long nanos) {
      requests.get(op).incrementAndGet();
    }

    @Override
    public void bytesUp(long bytes) {
      up.addAndGet(bytes);
    }

    @Override
    public void bytesDown(long bytes) {
      down.addAndGet(bytes);
    }
  }

  @Test
  void chunkTrafficIsCountedByTypeAndBytes() throws Exception {
    Counting m = new Counting();
    int chunk = 64 << 10;
    try (var store = new DirectoryObjectStore(dir, false, m);
        var catalog = new VolumeCatalog(store, CatalogOptions.defaults().withMetrics(m))) {
      catalog.create(new VolumeSpec("v", 4L * chunk, chunk, Map.of()));
      try (ChunkStore cs = catalog.open("v", new LeaseOwner("gw", "x"), false)) {
        long upBefore = m.up.get();
        long putsBefore = m.requests.get(StoreMetrics.Op.PUT).get();
        byte[] data = new byte[chunk];
        data[7] = 1;
        cs.write(0, ByteBuffer.wrap(data));
        assertThat(m.up.get() - upBefore).as("the chunk and its CRC32C").isEqualTo(chunk + 4);
        assertThat(m.requests.get(StoreMetrics.Op.PUT).get() - putsBefore).isEqualTo(1);

        long getsBefore = m.requests.get(StoreMetrics.Op.GET).get();
        long downBefore = m.down.get();
        assertThat(cs.read(0, ByteBuffer.allocate(chunk))).isTrue();
        assertThat(cs.read(1, ByteBuffer.allocate(chunk))).as("absent chunk: no request").isFalse();
        assertThat(m.requests.get(StoreMetrics.Op.GET).get() - getsBefore).isEqualTo(1);
        assertThat(m.down.get() - downBefore).isEqualTo(chunk + 4);

        long deletesBefore = m.requests.get(StoreMetrics.Op.DELETE).get();
        cs.delete(new long[] {0, 1, 2, 3}, 4);
        assertThat(m.requests.get(StoreMetrics.Op.DELETE).get() - deletesBefore)
            .as("one batched delete; never-written chunks cost nothing").isEqualTo(1);
      }
      assertThat(m.requests.get(StoreMetrics.Op.LIST).get())
          .as("one LIST builds the index, one finds the write log empty").isEqualTo(2);
    }
  }
}
