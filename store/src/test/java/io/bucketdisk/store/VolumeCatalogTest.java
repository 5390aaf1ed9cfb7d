package io.bucketdisk.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.object.DirectoryObjectStore;
import io.bucketdisk.store.object.ListPage;
import io.bucketdisk.store.object.ObjectData;
import io.bucketdisk.store.object.ObjectInfo;
import io.bucketdisk.store.object.ObjectStore;
import io.bucketdisk.store.object.ObjectStoreException;
import io.bucketdisk.store.object.WriteCondition;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The catalog over the local directory store, plus what needs a store that can be made to fail. */
class VolumeCatalogTest extends CatalogContract {
  @TempDir Path dir;
  FlakyStore flaky;

  @Override
  ObjectStore newStore() throws Exception {
    flaky = new FlakyStore(new DirectoryObjectStore(dir.resolve("store"), false, StoreMetrics.NONE));
    return flaky;
  }

  @Test
  void aWriterThatCannotRenewStopsAcknowledgingWrites() throws Exception {
    catalog.create(spec("v", 2 * CHUNK));
    ChunkStore a = catalog.open("v", A, false);
    a.write(0, chunk(1));
    flaky.failManifestPuts = true; // renewals fail with a transient error from now on
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    StoreException refused = null;
    while (refused == null && System.nanoTime() < deadline) {
      try {
        a.write(1, chunk(2));
        Thread.sleep(20);
      } catch (StoreException e) {
        refused = e;
      }
    }
    assertThat(refused).isNotNull();
    assertThat(refused.getMessage()).contains("lease expired");
    flaky.failManifestPuts = false;
    assertThatThrownBy(() -> a.write(1, chunk(3))).as("fencing is for good").hasMessageContaining("fenced");
    a.close();
  }

  @Test
  void corruptManifestIsAPermanentErrorNamingTheKey() throws Exception {
    store.put(Layout.manifestKey("bad"), ByteBuffer.wrap("{not json".getBytes()));
    assertThatThrownBy(() -> catalog.get("bad")).isInstanceOfSatisfying(StoreException.class,
        e -> assertThat(e.kind()).isEqualTo(StoreException.Kind.PERMANENT)).hasMessageContaining("manifests/bad");
  }

  @Test
  void pinnedBetween() {
    long[] pins = {2, 5, 9};
    assertThat(VolumeCatalog.pinnedBetween(pins, 1, 2)).isFalse();
    assertThat(VolumeCatalog.pinnedBetween(pins, 1, 3)).isTrue();
    assertThat(VolumeCatalog.pinnedBetween(pins, 3, 5)).isFalse();
    assertThat(VolumeCatalog.pinnedBetween(pins, 5, 6)).isTrue();
    assertThat(VolumeCatalog.pinnedBetween(pins, 10, Long.MAX_VALUE)).isFalse();
    assertThat(VolumeCatalog.pinnedBetween(new long[0], 0, Long.MAX_VALUE)).isFalse();
  }

  /** Delegates to a real store; can fail manifest PUTs with a transient error. */
  static final class FlakyStore implements ObjectStore {
    final ObjectStore delegate;
    volatile boolean failManifestPuts;

    FlakyStore(ObjectStore delegate) {
      this.delegate = delegate;
    }

    @Override
    public Optional<ObjectData> get(String key) throws ObjectStoreException {
      return delegate.get(key);
    }

    @Override
    public int read(String key, long offset, ByteBuffer dst) throws ObjectStoreException {
      return delegate.read(key, offset, dst);
    }

    @Override
    public String put(String key, ByteBuffer data, WriteCondition condition) throws ObjectStoreException {
      if (failManifestPuts && key.startsWith(Layout.MANIFESTS)) {
        throw new ObjectStoreException(StoreException.Kind.TRANSIENT, 503, "injected SlowDown");
      }
      return delegate.put(key, data, condition);
    }

    @Override
    public Optional<ObjectInfo> head(String key) throws ObjectStoreException {
      return delegate.head(key);
    }

    @Override
    public void delete(String key) throws ObjectStoreException {
      delegate.delete(key);
    }

    @Override
    public void delete(Collection<String> keys) throws ObjectStoreException {
      delegate.delete(keys);
    }

    @Override
    public ListPage list(String prefix, @Nullable String token, int maxKeys) throws ObjectStoreException {
      return delegate.list(prefix, token, maxKeys);
    }

    @Override
    public boolean conditionalWritesHonoured() {
      return delegate.conditionalWritesHonoured();
    }

    @Override
    public String describe() {
      return delegate.describe();
    }

    @Override
    public void close() {
      delegate.close();
    }
  }
}
