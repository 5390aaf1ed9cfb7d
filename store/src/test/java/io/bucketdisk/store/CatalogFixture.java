package io.bucketdisk.store;

import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.object.ObjectInfo;
import io.bucketdisk.store.object.ObjectStore;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A catalog over a fresh object store per test (a subclass makes the store), and helpers for store tests. */
abstract class CatalogFixture {
  static final int CHUNK = 64 << 10;
  static final LeaseOwner A = new LeaseOwner("gw-a", "unix:///run/a.sock");
  static final LeaseOwner B = new LeaseOwner("gw-b", "unix:///run/b.sock");

  ObjectStore store;
  VolumeCatalog catalog;

  /** A fresh, empty object store. */
  abstract ObjectStore newStore() throws Exception;

  @BeforeEach
  void open() throws Exception {
    store = newStore();
    catalog = new VolumeCatalog(store, options());
  }

  CatalogOptions options() {
    return CatalogOptions.defaults().withLeaseDuration(Duration.ofSeconds(3)).withClockSkew(Duration.ofMillis(200));
  }

  @AfterEach
  void close() {
    catalog.close();
    store.close();
  }

  static VolumeSpec spec(String id, long size) {
    return new VolumeSpec(id, size, CHUNK, Map.of("fsType", "ext4"));
  }

  static ByteBuffer chunk(int seed) {
    byte[] b = new byte[CHUNK];
    new Random(seed).nextBytes(b);
    return ByteBuffer.wrap(b);
  }

  static ByteBuffer read(ChunkStore cs, long i) throws Exception {
    ByteBuffer dst = ByteBuffer.allocate(CHUNK);
    if (!cs.read(i, dst)) {
      return ByteBuffer.allocate(CHUNK); // zeros
    }
    dst.flip();
    return dst;
  }

  List<String> keys(String prefix) throws Exception {
    List<String> out = new ArrayList<>();
    String token = null;
    int guard = 0;
    do {
      var page = store.list(prefix, token, 1000);
      page.objects().stream().map(ObjectInfo::key).forEach(out::add);
      token = page.nextToken();
    } while (token != null && ++guard < 100);
    return out;
  }

  static ByteBuffer segment(Object... extents) {
    var b = new io.bucketdisk.store.log.LogSegment.Builder(1 << 20);
    for (int i = 0; i < extents.length; i += 3) {
      long chunk = (Long) extents[i];
      int off = (Integer) extents[i + 1];
      if (extents[i + 2] instanceof byte[] data) {
        b.addData(chunk, off, data, 0, data.length);
      } else {
        b.addZero(chunk, off, (Integer) extents[i + 2]);
      }
    }
    ByteBuffer f = b.finish();
    ByteBuffer copy = ByteBuffer.allocate(f.remaining());
    copy.put(f.duplicate()).flip();
    return copy;
  }

  static byte[] bytes(int n, int seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** Stores a segment under any number and epoch, as a writer (or a fenced writer's late PUT) would have. */
  void putSegment(String volume, long seq, long epoch, ByteBuffer segment) throws Exception {
    ByteBuffer s = segment.duplicate();
    io.bucketdisk.store.log.LogSegment.stamp(s, seq, epoch);
    store.put(Layout.logKey(volume, seq, epoch), s);
  }
}
