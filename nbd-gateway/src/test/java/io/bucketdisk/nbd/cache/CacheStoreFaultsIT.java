package io.bucketdisk.nbd.cache;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.RawClient;
import io.bucketdisk.nbd.TestServer;
import io.bucketdisk.nbd.durable.AtReply;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.server.ServerOptions;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeSpec;
import io.bucketdisk.store.testing.FaultyS3Proxy;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The gateway cache behind the store's fault-injecting proxy (5xx, SlowDown, connection resets, lost responses,
 * slow responses) in front of s3proxy: writes are acknowledged, FLUSHes succeed or fail with EIO (never lie), the
 * data stays dirty through failures, and once the faults stop every written byte reaches the bucket — checked by a
 * fresh gateway reading the bucket directly. Each FLUSH that succeeded is checked against the bucket as it was at the
 * moment of its reply.
 */
@Timeout(180)
class CacheStoreFaultsIT {
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();
  static final int CHUNK = 1 << 20;
  static final int SIZE = 24 * CHUNK;
  static final int CMD_WRITE = 1;
  static final int CMD_FLUSH = 3;
  static final int EIO = 5;

  static CacheConfig config() {
    return new CacheConfig(24L * CHUNK, 8L * CHUNK, CHUNK, 4, 4, 2, Duration.ofMillis(300), Duration.ofSeconds(60),
        Duration.ofSeconds(60));
  }

  @Test
  void flushesNeverLieUnderStoreFaultsAndNothingIsLost() throws Exception {
    byte[] model = new byte[SIZE];
    int flushOk = 0;
    int flushFailed = 0;
    int injected;
    List<byte[]> promised = new ArrayList<>();
    AtReply atReply;
    try (FaultyS3Proxy faulty = FaultyS3Proxy.start(S3.endpoint())) {
      String url = S3ProxyFixture.storeUrl(faulty.endpoint(), S3.bucket(), "faults/").toString();
      var provider = new AtReply(VolumeExportProvider.forStore(java.net.URI.create(url),
          new LeaseOwner("gw-faults", "none"), config(), new VolumeSpec("vol", SIZE, CHUNK, Map.of())),
          AtReply.bucket(S3.storeUrl("faults/"), "vol"));
      atReply = provider;
      try (TestServer server = new TestServer(provider, ServerOptions.defaults());
          RawClient c = new RawClient(server.tcp).open("vol", false)) {
        Random rnd = new Random(99);
        FaultyS3Proxy.Fault[] faults = FaultyS3Proxy.Fault.values();
        faulty.delay(Duration.ofMillis(200));
        long cookie = 1;
        for (int round = 0; round < 6; round++) {
          faulty.failRandomly(faults[round % faults.length], 0.35, round);
          for (int i = 0; i < 8; i++) {
            int len = 1 + rnd.nextInt(2 * CHUNK);
            int off = rnd.nextInt(SIZE - len);
            byte[] data = new byte[len];
            rnd.nextBytes(data);
            c.request(0, CMD_WRITE, cookie++, off, len, ByteBuffer.wrap(data));
            assertThat(c.simple().error()).as("writes are acknowledged from the cache").isZero();
            System.arraycopy(data, 0, model, off, len);
          }
          c.request(0, CMD_FLUSH, cookie++, 0, 0);
          int err = c.simple().error();
          assertThat(err).as("a flush succeeds or fails with EIO").isIn(0, EIO);
          if (err == 0) {
            promised.add(model.clone());
            flushOk++;
          } else {
            flushFailed++;
          }
        }
        // an outage longer than the store's retries: FLUSH fails with EIO, and keeps failing, data stays dirty
        faulty.failRandomly(FaultyS3Proxy.Fault.INTERNAL_ERROR, 1.0, 7);
        byte[] last = new byte[CHUNK];
        rnd.nextBytes(last);
        c.request(0, CMD_WRITE, cookie++, 3L * CHUNK, CHUNK, ByteBuffer.wrap(last));
        assertThat(c.simple().error()).isZero();
        System.arraycopy(last, 0, model, 3 * CHUNK, CHUNK);
        for (int i = 0; i < 2; i++) {
          c.request(0, CMD_FLUSH, cookie++, 0, 0);
          assertThat(c.simple().error()).as("flush during an outage").isEqualTo(EIO);
        }
        faulty.clear();
        c.request(0, CMD_FLUSH, cookie++, 0, 0);
        assertThat(c.simple().error()).as("once the store recovers, the data kept through the faults is stored")
            .isZero();
        promised.add(model.clone());
        injected = faulty.faultsInjected();
      }
    }
    assertThat(injected).as("faults injected").isPositive();
    assertThat(flushOk + flushFailed).isEqualTo(6);
    // each FLUSH that replied success had every byte written before it in the bucket at that moment (read
    // straight from s3proxy, past the faulty proxy), not only once a later FLUSH got through
    List<AtReply.Promise> flushes = atReply.promises();
    assertThat(flushes).hasSameSizeAs(promised);
    for (int i = 0; i < flushes.size(); i++) {
      assertThat(Arrays.mismatch(flushes.get(i).image(), promised.get(i)))
          .as("first byte missing from the bucket when successful FLUSH %d of %d replied", i + 1, flushes.size())
          .isEqualTo(-1);
    }
    System.out.printf("faults injected %d, flushes ok %d, failed %d%n", injected, flushOk, flushFailed);
    // a fresh gateway, straight on s3proxy, sees exactly what was written
    var fresh = VolumeExportProvider.forStore(S3.storeUrl("faults/"), new LeaseOwner("gw-check", "none"), config(),
        null);
    try (fresh; Export e = fresh.open("vol").orElseThrow()) {
      ByteBuffer all = ByteBuffer.allocate(SIZE);
      e.read(0, all, 0);
      byte[] back = all.array();
      int mismatch = Arrays.mismatch(back, model);
      assertThat(mismatch).as("first differing byte (flushes ok %d, failed %d)", flushOk, flushFailed).isEqualTo(-1);
    }
  }
}
