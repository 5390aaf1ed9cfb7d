package io.bucketdisk.store.object;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.net.URI;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The contract against s3proxy over HTTP, plus S3-only behaviour (URL parsing, bad credentials, no bucket). */
class S3ObjectStoreIT extends ObjectStoreContract {
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();
  private static final AtomicInteger PREFIX = new AtomicInteger();

  @Override
  ObjectStore store() throws Exception {
    return ObjectStores.open(S3.storeUrl("t" + PREFIX.incrementAndGet() + "/"), StoreMetrics.NONE);
  }

  @Override
  ObjectStore batchStore() throws Exception {
    S3ObjectStore s = (S3ObjectStore) store();
    s.deleteBatchSize(10);
    return s;
  }

  @Override
  int batchKeys() {
    return 25; // s3proxy takes ~15 ms per PUT here; three DeleteObjects batches of 10, 10 and 5 (+1 missing key)
  }

  /**
   * s3proxy 4.1.0 checks If-Match and then writes without a lock, so concurrent conditional writers can all win
   * (measured: 8 of 8 with the same ETag); AWS S3 is atomic. What must hold everywhere is that the start-up probe
   * does not claim atomicity a race disproves: a store that reports {@code conditionalWritesAtomic()} must let
   * exactly one writer win. (A race can prove a server is not atomic, never that it is, so a store reported as not
   * atomic is not held to any count; its sequential preconditions are checked in {@code conditionalWrites}.)
   */
  @Override
  void checkSingleWinner(ObjectStore store, int wins) {
    if (store.conditionalWritesAtomic()) {
      assertThat(wins).as("the start-up probe reported atomic conditional writes").isEqualTo(1);
    }
  }

  @Test
  void prefixesIsolateStores() throws Exception {
    try (ObjectStore a = store(); ObjectStore b = store()) {
      a.put("k", bytes("a"));
      assertThat(b.get("k")).isEmpty();
      assertThat(a.list("", null, 10).objects()).extracting(ObjectInfo::key).containsExactly("k");
    }
  }

  @Test
  void wrongSecretIsAPermanentErrorNamingTheFix() {
    URI url = URI.create(S3.storeUrl("x/").toString().replace("secret-key=secret", "secret-key=wrong"));
    assertThatThrownBy(() -> ObjectStores.open(url, StoreMetrics.NONE))
        .isInstanceOfSatisfying(ObjectStoreException.class, e -> {
          assertThat(e.isTransient()).isFalse();
          assertThat(e.getMessage()).contains("403").contains("credentials");
        });
  }

  @Test
  void missingBucketIsAPermanentErrorNamingTheFix() {
    URI url = S3ProxyFixture.storeUrl(S3.endpoint(), "no-such-bucket", "");
    assertThatThrownBy(() -> ObjectStores.open(url, StoreMetrics.NONE))
        .isInstanceOfSatisfying(ObjectStoreException.class, e -> {
          assertThat(e.isTransient()).isFalse();
          assertThat(e.getMessage()).contains("bucket");
        });
  }
}
