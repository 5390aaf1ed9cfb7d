package io.bucketdisk.store.object;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.store.StoreException;
import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.testing.FaultyS3Proxy;
import io.bucketdisk.store.testing.FaultyS3Proxy.Fault;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Retries through {@link FaultyS3Proxy}: transient failures are ridden out, permanent ones surface at once. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RetryIT {
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();
  static FaultyS3Proxy faulty;
  static final AtomicInteger PREFIX = new AtomicInteger();
  final AtomicInteger retries = new AtomicInteger();
  final AtomicInteger failures = new AtomicInteger();
  final StoreMetrics metrics = new StoreMetrics() {
    @Override
    public void retry(Op op) {
      retries.incrementAndGet();
    }

    @Override
    public void failure(Op op, StoreException.Kind kind) {
      if (kind == StoreException.Kind.TRANSIENT) {
        failures.incrementAndGet();
      }
    }
  };

  @BeforeAll
  static void startProxy() throws Exception {
    S3.startProxy();
    faulty = FaultyS3Proxy.start(S3.endpoint());
  }

  @AfterAll
  static void stopProxy() throws Exception {
    faulty.close();
  }

  @BeforeEach
  void clearFaults() {
    faulty.clear();
  }

  S3ObjectStore store(int attempts) throws Exception {
    S3ObjectStore s = S3ProxyFixture.objectStore(faulty.endpoint(), S3.bucket(), "r" + PREFIX.incrementAndGet() + "/",
        new RetryPolicy(attempts, Duration.ofMillis(5), Duration.ofMillis(50), Duration.ofSeconds(20)), metrics);
    // Opening probes the server (conditional writes, eight racing writers); a retry there, or on one of the pooled
    // connections the proxy closed after the probe, is not what the tests count. One request puts a fresh
    // connection on top of the pool.
    s.head("warm-up");
    retries.set(0);
    failures.set(0);
    return s;
  }

  @Test
  void serverErrorsOnPutAreRetried() throws Exception {
    try (S3ObjectStore s = store(6)) {
      faulty.failNext(3, Fault.INTERNAL_ERROR, "PUT");
      s.put("k", ByteBuffer.wrap(new byte[] {1, 2, 3}));
      assertThat(retries.get()).isEqualTo(3);
      assertThat(s.get("k").orElseThrow().bytes()).containsExactly(1, 2, 3);
    }
  }

  @Test
  void slowDownOnGetIsRetried() throws Exception {
    try (S3ObjectStore s = store(6)) {
      s.put("k", ByteBuffer.wrap(new byte[] {9}));
      faulty.failNext(2, Fault.SLOW_DOWN, "GET");
      ByteBuffer dst = ByteBuffer.allocate(1);
      assertThat(s.read("k", 0, dst)).isEqualTo(1);
      assertThat(dst.get(0)).isEqualTo((byte) 9);
      assertThat(retries.get()).isEqualTo(2);
    }
  }

  @Test
  void aLargePutIsRetriedThroughServerErrorsAndResetsAndStoresItsBytes() throws Exception {
    try (S3ObjectStore s = store(8)) {
      byte[] big = new byte[S3Connection.BULK_BYTES + 12_345];
      new java.util.Random(7).nextBytes(big);
      ByteBuffer[] parts = {ByteBuffer.wrap(big, 0, 1000), ByteBuffer.wrap(big, 1000, big.length - 1000)};
      faulty.failNext(2, Fault.INTERNAL_ERROR, "PUT");
      faulty.failNext(1, Fault.RESET, "PUT");
      String etag = s.put("big", parts, WriteCondition.none());
      assertThat(retries.get()).isEqualTo(3);
      assertThat(parts[0].position()).as("the caller's buffers are left where they were").isZero();
      assertThat(s.head("big").orElseThrow().etag()).isEqualTo(etag);
      assertThat(s.get("big").orElseThrow().bytes()).isEqualTo(big);
      faulty.failNext(10, Fault.SLOW_DOWN, "PUT");
      assertThatThrownBy(() -> s.put("big2", ByteBuffer.wrap(big)))
          .isInstanceOfSatisfying(ObjectStoreException.class, e -> assertThat(e.getMessage())
              .contains("HTTP 503 SlowDown").contains("gave up after 8 attempts"));
    }
  }

  @Test
  void aGetThatKeepsFailingGivesUpWithTheServersStatusAndCode() throws Exception {
    try (S3ObjectStore s = store(3)) {
      s.put("k", ByteBuffer.wrap(new byte[] {9}));
      faulty.failNext(10, Fault.SLOW_DOWN, "GET");
      assertThatThrownBy(() -> s.read("k", 0, ByteBuffer.allocate(1)))
          .isInstanceOfSatisfying(ObjectStoreException.class, e -> {
            assertThat(e.kind()).isEqualTo(StoreException.Kind.TRANSIENT);
            assertThat(e.httpStatus()).isEqualTo(503);
            assertThat(e.getMessage()).contains("HTTP 503 SlowDown").contains("gave up after 3 attempts")
                .doesNotContain("\n");
          });
      assertThat(retries.get()).isEqualTo(2);
    }
  }

  @Test
  void aGetPastTheAttemptTimeoutIsAbortedAndRetried() throws Exception {
    S3ObjectStore s = new S3ObjectStore(S3ObjectStore.Config.of(S3.bucket(), "r" + PREFIX.incrementAndGet() + "/",
            faulty.endpoint(), S3ProxyFixture.REGION, true, S3ProxyFixture.ACCESS_KEY, S3ProxyFixture.SECRET_KEY)
        .withRetry(new RetryPolicy(4, Duration.ofMillis(5), Duration.ofMillis(50), Duration.ofSeconds(20)))
        .withAttemptTimeout(Duration.ofMillis(700)).withAcceptUnfenced(true), metrics);
    try (s) {
      s.put("k", ByteBuffer.wrap(new byte[] {5}));
      retries.set(0);
      faulty.delay(Duration.ofSeconds(3));
      faulty.failNext(1, Fault.DELAY, "GET");
      long t0 = System.nanoTime();
      ByteBuffer dst = ByteBuffer.allocate(1);
      assertThat(s.read("k", 0, dst)).isEqualTo(1);
      assertThat(dst.get(0)).isEqualTo((byte) 5);
      assertThat(retries.get()).as("the late attempt was given up and retried").isEqualTo(1);
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(2500));
    }
  }

  @Test
  void connectionResetsAreRetried() throws Exception {
    try (S3ObjectStore s = store(6)) {
      faulty.failNext(2, Fault.RESET);
      s.put("k", ByteBuffer.wrap(new byte[] {4}));
      assertThat(s.head("k")).isPresent();
      assertThat(retries.get()).isGreaterThanOrEqualTo(2);
    }
  }

  @Test
  void lostResponseOfAConditionalPutIsRecognisedAsOurs() throws Exception {
    try (S3ObjectStore s = store(6)) {
      faulty.failNext(1, Fault.LOST_RESPONSE, "PUT");
      String etag = s.put("m", ByteBuffer.wrap(new byte[] {7, 7}), WriteCondition.ifNoneMatch());
      assertThat(s.head("m").orElseThrow().etag()).isEqualTo(etag);
      // somebody else's bytes are still a conflict after a lost response
      faulty.failNext(1, Fault.LOST_RESPONSE, "PUT");
      String other = s.put("n", ByteBuffer.wrap(new byte[] {1}));
      assertThat(other).isNotEmpty();
    }
  }

  @Test
  void persistentTransientFailuresGiveUpAfterTheAttemptBudget() throws Exception {
    try (S3ObjectStore s = store(3)) {
      faulty.failNext(10, Fault.SLOW_DOWN, "PUT");
      assertThatThrownBy(() -> s.put("k", ByteBuffer.wrap(new byte[] {1})))
          .isInstanceOfSatisfying(ObjectStoreException.class, e -> {
            assertThat(e.kind()).isEqualTo(StoreException.Kind.TRANSIENT);
            assertThat(e.httpStatus()).isEqualTo(503);
            assertThat(e.getMessage()).contains("gave up after 3 attempts");
          });
      assertThat(retries.get()).isEqualTo(2);
      assertThat(failures.get()).isEqualTo(1);
    }
  }

  @Test
  void permanentFailuresAreNotRetried() throws Exception {
    try (S3ObjectStore s = store(6)) {
      int before = faulty.requests();
      assertThatThrownBy(() -> s.put("m", ByteBuffer.wrap(new byte[] {1}), WriteCondition.ifMatch("\"nope\"")))
          .isInstanceOfSatisfying(ObjectStoreException.class, e -> assertThat(e.isPrecondition()).isTrue());
      assertThat(faulty.requests() - before).isEqualTo(1);
      assertThat(retries.get()).isZero();
    }
  }

  @Test
  void chunkWritesThroughTheCatalogSurviveRandomFaults() throws Exception {
    try (S3ObjectStore s = store(10);
        var catalog = new io.bucketdisk.store.VolumeCatalog(s, io.bucketdisk.store.CatalogOptions.defaults())) {
      int chunk = 64 << 10;
      catalog.create(new io.bucketdisk.store.VolumeSpec("v", 8L * chunk, chunk, java.util.Map.of()));
      var owner = new io.bucketdisk.store.LeaseOwner("gw", "unix:///x");
      faulty.failRandomly(Fault.SLOW_DOWN, 0.25, 7);
      try (var cs = catalog.open("v", owner, false)) {
        for (int i = 0; i < 8; i++) {
          byte[] b = new byte[chunk];
          java.util.Arrays.fill(b, (byte) (i + 1));
          cs.write(i, ByteBuffer.wrap(b));
        }
        cs.snapshot("s");
        cs.delete(new long[] {0, 1}, 2);
      }
      faulty.failRandomly(Fault.RESET, 0.25, 8);
      try (var cs = catalog.open("v", owner, true); var snap = catalog.openSnapshot("s")) {
        for (int i = 0; i < 8; i++) {
          ByteBuffer dst = ByteBuffer.allocate(chunk);
          assertThat(snap.read(i, dst)).isTrue();
          assertThat(dst.get(chunk - 1)).isEqualTo((byte) (i + 1));
          assertThat(cs.isStored(i)).isEqualTo(i >= 2);
        }
      }
      faulty.clear();
      assertThat(faulty.faultsInjected()).isGreaterThan(3);
    }
  }

  @Test
  void randomFaultsAtTwentyPercentStillCompleteEveryCall() throws Exception {
    try (S3ObjectStore s = store(10)) {
      faulty.failRandomly(Fault.INTERNAL_ERROR, 0.2, 42);
      for (int i = 0; i < 20; i++) {
        s.put("k" + i, ByteBuffer.wrap(new byte[] {(byte) i}));
      }
      faulty.failRandomly(Fault.RESET, 0.2, 43);
      for (int i = 0; i < 20; i++) {
        assertThat(s.get("k" + i).orElseThrow().bytes()).containsExactly(i);
      }
      faulty.clear();
      assertThat(faulty.faultsInjected()).isGreaterThan(0);
      assertThat(retries.get()).isGreaterThan(0);
    }
  }
}
