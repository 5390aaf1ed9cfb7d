package io.bucketdisk.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.log.LogSegment;
import io.bucketdisk.store.object.ObjectStore;
import io.bucketdisk.store.testing.FaultyS3Proxy;
import io.bucketdisk.store.testing.FaultyS3Proxy.Fault;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Replay under store faults: a writable open replays a crashed writer's log through the fault-injecting proxy
 * (5xx, resets, lost responses, slow-downs, at random, often more of them in a row than the store retries). An open
 * that fails part-way leaves the volume so that the next open, once the faults stop, reads exactly what the log and
 * the chunks said, and the log is gone after it.
 */
@Timeout(300)
class LogReplayFaultsIT {
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();
  static final int CHUNK = 64 << 10;
  static final LeaseOwner OWNER = new LeaseOwner("gw-replay", "none");

  static CatalogOptions options() {
    return CatalogOptions.defaults().withLeaseDuration(Duration.ofSeconds(3)).withClockSkew(Duration.ofMillis(200));
  }

  static byte[] bytes(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  static void putSegment(ObjectStore store, String volume, long seq, LogSegment.Builder b) throws Exception {
    ByteBuffer f = b.finish();
    ByteBuffer s = ByteBuffer.allocate(f.remaining()).put(f.duplicate()).flip();
    LogSegment.stamp(s, seq, 1);
    store.put(Layout.logKey(volume, seq, 1), s);
    b.reset();
  }

  @Test
  void anOpenThatFailsMidReplayLosesNothingAndTheNextOneFinishesIt() throws Exception {
    Fault[] faults = {Fault.INTERNAL_ERROR, Fault.RESET, Fault.LOST_RESPONSE, Fault.SLOW_DOWN};
    Random rnd = new Random(5);
    int failedOpens = 0;
    try (FaultyS3Proxy faulty = FaultyS3Proxy.start(S3.endpoint());
        VolumeCatalog clean = VolumeCatalog.open(S3.storeUrl("replay/"), options());
        VolumeCatalog viaFaults = VolumeCatalog.open(S3.storeUrlVia(faulty.endpoint(), S3.bucket(), "replay/"),
            options())) {
      for (int round = 0; round < 8; round++) {
        String v = "v" + round;
        clean.create(new VolumeSpec(v, 4L * CHUNK, CHUNK, Map.of()));
        byte[] expect = new byte[4 * CHUNK];
        try (ChunkStore w = clean.open(v, OWNER, false)) {
          for (int c = 0; c < 4; c++) {
            byte[] data = bytes(CHUNK, round * 10L + c);
            w.write(c, ByteBuffer.wrap(data));
            System.arraycopy(data, 0, expect, c * CHUNK, CHUNK);
          }
        }
        var b = new LogSegment.Builder(1 << 20);
        byte[] x = bytes(300, round + 100);
        b.addData(0, 100, x, 0, x.length);
        b.addZero(2, 0, CHUNK);
        putSegment(clean.objectStore(), v, 1, b);
        byte[] y = bytes(100, round + 200);
        byte[] z = bytes(1000, round + 300);
        b.addData(0, 200, y, 0, y.length);
        b.addData(3, 0, z, 0, z.length);
        putSegment(clean.objectStore(), v, 2, b);
        byte[] w5 = bytes(5, round + 400);
        b.addData(1, 5, w5, 0, w5.length);
        putSegment(clean.objectStore(), v, 3, b);
        System.arraycopy(x, 0, expect, 100, x.length);
        java.util.Arrays.fill(expect, 2 * CHUNK, 3 * CHUNK, (byte) 0);
        System.arraycopy(y, 0, expect, 200, y.length);
        System.arraycopy(z, 0, expect, 3 * CHUNK, z.length);
        System.arraycopy(w5, 0, expect, CHUNK + 5, w5.length);

        // the faults begin somewhere in the replay: after a random number of requests, many in a row
        faulty.failRandomly(faults[round % faults.length], round % 2 == 0 ? 0.8 : 0.6, round);
        faulty.delay(Duration.ofMillis(rnd.nextInt(3)));
        boolean opened;
        try (ChunkStore r = viaFaults.open(v, OWNER, false)) {
          opened = true;
        } catch (java.io.IOException e) {
          opened = false;
          failedOpens++;
        }
        faulty.clear();
        try (ChunkStore r = viaFaults.open(v, OWNER, false)) {
          byte[] got = new byte[4 * CHUNK];
          for (int c = 0; c < 4; c++) {
            ByteBuffer dst = ByteBuffer.wrap(got, c * CHUNK, CHUNK).slice();
            r.read(c, dst);
          }
          assertThat(java.util.Arrays.mismatch(got, expect)).as("round %d: first byte that differs", round)
              .isEqualTo(-1);
        }
        assertThat(clean.objectStore().list(Layout.logPrefix(v), null, 10).objects()).as("round %d", round).isEmpty();
      }
      assertThat(failedOpens).as("opens that failed under the faults").isPositive();
      System.out.printf("LogReplayFaultsIT: %d of 8 opens failed under faults, %d faults injected%n", failedOpens,
          faulty.faultsInjected());
    }
  }
}
