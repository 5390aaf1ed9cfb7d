package io.bucketdisk.nbd.cache;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.engine.cache.ChunkCache;
import io.bucketdisk.engine.volume.MemoryVolumeSource;
import io.bucketdisk.engine.cache.MemoryChunkStore;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.testing.Tool;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.TestServer;
import io.bucketdisk.nbd.durable.AtReply;
import io.bucketdisk.nbd.server.ServerOptions;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeSpec;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * qemu-io through the real NBD server into {@link VolumeExportProvider}: every command round-trips, and the chunk
 * objects in the store are checked after FLUSH (written chunks exist, zeroed and trimmed ones do not).
 */
@Timeout(120)
class CacheQemuIoInteropIT {
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();
  static final int CHUNK = 1 << 20;
  MemoryVolumeSource source;
  MemoryChunkStore store;
  TestServer server;

  @BeforeEach
  void start() throws Exception {
    Tool.require("qemu-io");
    source = new MemoryVolumeSource();
    store = source.add("vol", 32L * CHUNK, CHUNK);
    var cache = new ChunkCache(config());
    server = new TestServer(new VolumeExportProvider(source, cache, null), ServerOptions.defaults());
  }

  /** A loss window far longer than a test, so only FLUSH and FUA make data durable. */
  static CacheConfig config() {
    return new CacheConfig(24L * CHUNK, 8L * CHUNK, CHUNK, 4, 4, 4, Duration.ofSeconds(60), Duration.ofSeconds(30),
        Duration.ofSeconds(30));
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  Tool.Result io(String... commands) throws Exception {
    var cmd = new java.util.ArrayList<>(java.util.List.of("qemu-io", "-f", "raw", "-t", "none", server.uri("vol")));
    for (String c : commands) {
      cmd.add("-c");
      cmd.add(c);
    }
    Tool.Result r = Tool.run(cmd.toArray(String[]::new)).ok();
    assertThat(r.out() + r.err()).doesNotContain("Pattern verification failed", "error", "failed");
    return r;
  }

  static byte[] filled(int n, int value) {
    byte[] b = new byte[n];
    Arrays.fill(b, (byte) value);
    return b;
  }

  @Test
  void writesUnalignedAcrossChunksFlushAndLandAsChunkObjects() throws Exception {
    io("write -P 0xab 1000 3M", "write -P 0xcd 5M 512", "read -P 0xab 1000 3M", "read -P 0 0 1000",
        "read -P 0xcd 5M 512", "flush");
    assertThat(store.durableChunks()).containsExactlyInAnyOrder(0L, 1L, 2L, 3L, 5L);
    byte[] image = store.imageAfterReplay();
    assertThat(Arrays.copyOfRange(image, 1000, 1000 + 3 * CHUNK)).isEqualTo(filled(3 * CHUNK, 0xab));
    assertThat(Arrays.copyOfRange(image, 0, 1000)).isEqualTo(new byte[1000]);
    assertThat(Arrays.copyOfRange(image, 5 * CHUNK, 5 * CHUNK + 512)).isEqualTo(filled(512, 0xcd));
    // a second process sees the same bytes (served from the store after the export closed)
    io("read -P 0xab 1000 3M", "read -P 0xcd 5M 512", "read -P 0 6M 1M");
    server.close(); // closing the volume keeps the log: the next open adopts it
    server = null;
    assertThat(store.durableChunks()).containsExactlyInAnyOrder(0L, 1L, 2L, 3L, 5L);
    assertThat(store.imageAfterReplay()).isEqualTo(image);
  }

  @Test
  void discardAndWriteZeroesDeleteWholeChunksAndZeroPartialOnes() throws Exception {
    io("write -P 0x55 0 8M", "flush");
    assertThat(store.chunks).hasSize(8);
    io("discard 0 2M", "write -z -u 2M 1M", "write -z 3M 1M", "write -z 4M 4096", "discard 5M 1M",
        "flush", "read -P 0 0 4M", "read -P 0 4M 4096", "read -P 0x55 4198400 1044480", "read -P 0x55 6M 2M");
    assertThat(store.durableChunks()).as("trimmed and zeroed chunks read as zeros").containsExactlyInAnyOrder(4L, 6L, 7L);
    assertThat(Arrays.copyOfRange(store.imageAfterReplay(), 4 * CHUNK, 4 * CHUNK + 4096)).isEqualTo(new byte[4096]);
    server.close(); // closing the volume keeps the log: the next open adopts it
    server = null;
    assertThat(store.durableChunks()).containsExactlyInAnyOrder(4L, 6L, 7L);
    assertThat(Arrays.copyOfRange(store.imageAfterReplay(), 4 * CHUNK, 4 * CHUNK + 4096)).isEqualTo(new byte[4096]);
    store.chunks.forEach((i, d) -> assertThat(d).as("chunk %d stored as zeros", i).isNotEqualTo(new byte[CHUNK]));
  }

  /**
   * The bucket is read at the moment the FUA write's reply is about to leave, with the volume open: qemu-io's flush
   * on exit and the volume's flush on close come later and cannot cover for an ignored FUA.
   */
  @Test
  void fuaWriteIsInTheStoreBeforeTheReply() throws Exception {
    URI url = S3.storeUrl("fua-" + System.nanoTime() + "/");
    var provider = VolumeExportProvider.forStore(url, new LeaseOwner("gw-fua", "none"), config(),
        new VolumeSpec("vol", 16L * CHUNK, CHUNK, Map.of()));
    var atReply = new AtReply(provider, AtReply.bucket(url, "vol"));
    try (var fuaServer = new TestServer(atReply, ServerOptions.defaults())) {
      Tool.run("qemu-io", "-f", "raw", "-t", "none", fuaServer.uri("vol"), "-c", "write -P 0x11 1M 64k",
          "-c", "write -f -P 0x77 9M 64k").ok();
    }
    AtReply.Promise fua = atReply.promises().getFirst();
    assertThat(fua.command()).as("the first promise is the FUA write, before qemu-io's flush on exit")
        .isEqualTo("fua-write");
    assertThat(Arrays.copyOfRange(fua.before(), 9 * CHUNK, 9 * CHUNK + 65536)).as("the bucket before the FUA write")
        .isEqualTo(new byte[65536]);
    assertThat(Arrays.mismatch(Arrays.copyOfRange(fua.image(), 9 * CHUNK, 9 * CHUNK + 65536), filled(65536, 0x77)))
        .as("first byte of the FUA write missing from the bucket when its reply went out").isEqualTo(-1);
  }

  @Test
  void writingZerosDataStoresNothing() throws Exception {
    io("write -P 0 12M 2M", "flush");
    assertThat(store.chunks).isEmpty();
  }
}
