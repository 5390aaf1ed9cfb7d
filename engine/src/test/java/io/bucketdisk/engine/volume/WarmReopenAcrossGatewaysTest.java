package io.bucketdisk.engine.volume;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.VolumeSpec;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two gateways over one directory store take turns on a volume: a gateway that reopens a volume another gateway wrote
 * since its own close reads the other's data, never what it had cached before.
 */
@Timeout(60)
class WarmReopenAcrossGatewaysTest {
  static final int CHUNK = 1 << 20;
  static final long SIZE = 4L * CHUNK;

  @TempDir Path dir;

  VolumeRegistry gateway(String id) throws Exception {
    CacheConfig config = new CacheConfig(32L * CHUNK, 8L * CHUNK, CHUNK, 2, 2, 4, java.time.Duration.ofSeconds(3),
        java.time.Duration.ofSeconds(20), java.time.Duration.ofSeconds(20));
    return VolumeRegistry.forStore(dir.toUri(), new LeaseOwner(id, "unix:///run/" + id + ".sock"), config,
        new VolumeSpec("v", SIZE, CHUNK, Map.of()), StoreMetrics.NONE);
  }

  static byte[] fill(int seed) {
    byte[] b = new byte[(int) SIZE];
    Arrays.fill(b, (byte) seed);
    return b;
  }

  static void write(VolumeRegistry g, byte[] data) throws Exception {
    try (VolumeHandle h = g.open("v").orElseThrow()) {
      h.volume().write(0, ByteBuffer.wrap(data), false);
      h.volume().flush();
    }
  }

  static byte[] read(VolumeRegistry g) throws Exception {
    try (VolumeHandle h = g.open("v").orElseThrow()) {
      ByteBuffer dst = ByteBuffer.allocate((int) SIZE);
      h.volume().read(0, dst);
      return dst.array();
    }
  }

  @Test
  void aGatewayReadsWhatAnotherWroteSinceItsOwnClose() throws Exception {
    try (VolumeRegistry a = gateway("gw-a"); VolumeRegistry b = gateway("gw-b")) {
      write(a, fill(1));
      assertThat(read(a)).isEqualTo(fill(1)); // cached in a, kept across its close
      write(b, fill(2));
      assertThat(read(a)).as("a after b wrote").isEqualTo(fill(2));
      assertThat(read(a)).as("a again").isEqualTo(fill(2));
      write(a, fill(3));
      assertThat(read(b)).as("b after a wrote").isEqualTo(fill(3));
      assertThat(read(a)).isEqualTo(fill(3));
    }
  }
}
