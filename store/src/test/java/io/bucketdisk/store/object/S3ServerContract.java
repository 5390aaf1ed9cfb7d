package io.bucketdisk.store.object;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.testing.S3Server;
import java.net.URI;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The {@link ObjectStore} contract against one real S3 server over HTTP, plus S3-only behaviour (bad credentials,
 * no bucket). Conditional writes: the store must report exactly what the server does (the {@link S3Server} says
 * whether it is atomic), and the 8-writer race of the contract must agree with that report: one winner where the
 * probe found atomic writes, more than one where it did not.
 */
abstract class S3ServerContract extends ObjectStoreContract {
  private static final AtomicInteger PREFIX = new AtomicInteger();

  abstract S3Server server();

  @Override
  ObjectStore store() throws Exception {
    return ObjectStores.open(server().storeUrl("t" + PREFIX.incrementAndGet() + "/"), StoreMetrics.NONE);
  }

  @Override
  ObjectStore batchStore() throws Exception {
    S3ObjectStore s = (S3ObjectStore) store();
    s.deleteBatchSize(10);
    return s;
  }

  @Override
  int batchKeys() {
    return 25; // three DeleteObjects batches of 10, 10 and 5 (+1 missing key); small PUTs take ~15 ms here
  }

  @Override
  void checkFencingReported(ObjectStore s) {
    assertThat(s.conditionalWritesHonoured()).as("sequential preconditions on %s", server().name()).isTrue();
    assertThat(s.conditionalWritesAtomic()).as("probe's verdict on %s", server().name())
        .isEqualTo(server().atomicConditionalWrites());
  }

  /**
   * On a server whose conditional writes are not atomic any refusal of a racer is a loss: s3proxy answered one racing
   * If-Match PUT with 400 InvalidRequest "Bad Request" in a clean-clone CI run (the others won or got 412).
   */
  @Override
  boolean lostTheRace(ObjectStoreException e) {
    return e.isPrecondition() || !server().atomicConditionalWrites();
  }

  @Override
  void checkSingleWinner(ObjectStore s, int wins) {
    checkFencingReported(s);
    if (s.conditionalWritesAtomic()) {
      assertThat(wins).as("racing If-Match writers that won on %s", server().name()).isEqualTo(1);
    } else {
      assertThat(wins).as("racing If-Match writers that won on %s, whose probe found them not atomic",
          server().name()).isGreaterThan(1);
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
  void wrongSecretNamesTheServersCodeAndTheFix() {
    URI url = URI.create(server().storeUrl("x/").toString().replaceAll("secret-key=[^&]*", "secret-key=wrong"));
    assertThatThrownBy(() -> ObjectStores.open(url, StoreMetrics.NONE))
        .isInstanceOfSatisfying(ObjectStoreException.class, e -> {
          assertThat(e.isTransient()).isFalse();
          assertThat(e.errorCode()).isEqualTo("SignatureDoesNotMatch");
          assertThat(e.getMessage()).contains("403 SignatureDoesNotMatch").contains("secret key is wrong")
              .doesNotContain("\n");
        });
  }

  @Test
  void unknownAccessKeyNamesTheServersCodeAndTheFix() {
    URI url = URI.create(server().storeUrl("x/").toString().replaceAll("access-key=[^&]*", "access-key=nobody"));
    assertThatThrownBy(() -> ObjectStores.open(url, StoreMetrics.NONE))
        .isInstanceOfSatisfying(ObjectStoreException.class, e -> {
          assertThat(e.errorCode()).isEqualTo("InvalidAccessKeyId");
          assertThat(e.getMessage()).contains("403 InvalidAccessKeyId").contains("does not know the access key");
        });
  }

  @Test
  void missingBucketNamesTheServersCodeAndTheFix() {
    URI url = server().storeUrlVia(server().endpoint(), "no-such-bucket", "");
    assertThatThrownBy(() -> ObjectStores.open(url, StoreMetrics.NONE))
        .isInstanceOfSatisfying(ObjectStoreException.class, e -> {
          assertThat(e.isTransient()).isFalse();
          assertThat(e.errorCode()).isEqualTo("NoSuchBucket");
          assertThat(e.getMessage()).contains("404 NoSuchBucket").contains("create the bucket");
        });
  }
}
