package io.bucketdisk.nbd.cache;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.engine.cache.ChunkCache;
import io.bucketdisk.engine.volume.MemoryVolumeSource;
import io.bucketdisk.engine.cache.MemoryChunkStore;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.testing.Tool;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.nbd.TestServer;
import io.bucketdisk.nbd.durable.AtReply;
import io.bucketdisk.nbd.server.ServerOptions;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeSpec;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * nbdcopy over four connections (multi-conn) into a volume on s3proxy, the bucket checked when the first FLUSH
 * replied; and nbdinfo --map of our metadata contexts.
 */
@Timeout(120)
class CacheNbdcopyInteropIT {
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();
  static final int CHUNK = 1 << 20;
  MemoryVolumeSource source;
  MemoryChunkStore store;
  TestServer server;
  VolumeExportProvider provider;
  Path dir;

  @BeforeEach
  void start() throws Exception {
    source = new MemoryVolumeSource();
    store = source.add("vol", 48L * CHUNK, CHUNK);
    var cache = new ChunkCache(CacheQemuIoInteropIT.config());
    provider = new VolumeExportProvider(source, cache, null);
    server = new TestServer(provider, ServerOptions.defaults());
    dir = Files.createTempDirectory("bdcopy");
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        Files.delete(p);
      }
    }
    Files.delete(dir);
  }

  @Test
  void multiConnCopyInAndOutMatchesTheStoreObjects() throws Exception {
    Tool.require("nbdcopy");
    byte[] data = new byte[48 * CHUNK];
    Random rnd = new Random(3);
    for (int c = 0; c < 48; c++) {
      if (c % 3 != 1) { // every third chunk stays a hole
        // the last quarter of each chunk stays zero and is skipped (--destination-is-zero), so no chunk is
        // complete and none uploads before a FLUSH asks for it, except under dirty-cap pressure
        byte[] part = new byte[CHUNK - CHUNK / 4];
        rnd.nextBytes(part);
        System.arraycopy(part, 0, data, c * CHUNK, part.length);
      }
    }
    Path src = dir.resolve("src.img");
    Path back = dir.resolve("back.img");
    Files.write(src, data);
    URI url = S3.storeUrl("copy-" + System.nanoTime() + "/");
    // No dirty-space pressure (the 24 MiB copied stay under half the dirty cap) and a loss window longer than the
    // test: nothing reaches the bucket before a FLUSH asks for it.
    var noEarlyUploads = new CacheConfig(96L * CHUNK, 64L * CHUNK, CHUNK, 4, 4, 4, Duration.ofSeconds(300),
        Duration.ofSeconds(30), Duration.ofSeconds(30));
    var provider = VolumeExportProvider.forStore(url, new LeaseOwner("gw-copy", "none"), noEarlyUploads,
        new VolumeSpec("vol", 48L * CHUNK, CHUNK, Map.of()));
    var atReply = new AtReply(provider, AtReply.bucket(url, "vol"));
    try (var copyServer = new TestServer(atReply, ServerOptions.defaults())) {
      Tool.run("nbdcopy", "-C", "4", "-T", "4", "--flush", "--destination-is-zero", src.toString(),
          copyServer.uri("vol")).ok();
      assertThat(atReply.mostOpenAtOnce()).as("nbdcopy -C 4 kept four connections (CAN_MULTI_CONN)")
          .isGreaterThanOrEqualTo(4);
      assertThat(atReply.promises()).as("the bucket lacked some of the data when a FLUSH arrived (else nothing "
          + "here shows that FLUSH stores it)").anyMatch(p -> Arrays.mismatch(p.before(), data) != -1);
      // multi-conn: the first FLUSH, on whichever connection, covers the writes completed on all four
      assertThat(Arrays.mismatch(atReply.firstFlush().image(), data)).as("first byte the bucket lacked when the "
          + "first FLUSH replied").isEqualTo(-1);
      Tool.run("nbdcopy", "-C", "4", copyServer.uri("vol"), back.toString()).ok();
    }
    assertThat(Files.readAllBytes(back)).isEqualTo(data);
  }

  @Test
  void nbdinfoMapsRangesFinerThanAChunk() throws Exception {
    Tool.require("nbdinfo");
    Tool.require("qemu-io");
    // 4 KiB in chunk 5, which has no object: logged by qemu-io's FLUSH, data only there
    Tool.run("qemu-io", "-f", "raw", server.uri("vol"), "-c", "write -P 7 5308416 4096", "-c", "flush").ok();
    try (var handle = provider.open("vol").orElseThrow()) {
      // 8 KiB in chunk 7 through a second handle, not flushed: dirty, and data only there
      handle.write(7471104, java.nio.ByteBuffer.wrap(new byte[8192]).put(0, (byte) 9), 0);
      assertThat(lines(Tool.run("nbdinfo", "--map", server.uri("vol")).ok().out())).containsExactly(
          "0 5308416 3 hole,zero", "5308416 4096 0 data", "5312512 2158592 3 hole,zero", "7471104 8192 0 data",
          "7479296 42852352 3 hole,zero");
      assertThat(lines(Tool.run("nbdinfo", "--map=bucketdisk:dirty", server.uri("vol")).ok().out()))
          .containsExactly("0 7471104 0", "7471104 8192 1", "7479296 42852352 0");
      assertThat(lines(Tool.run("nbdinfo", "--map=bucketdisk:allocation-depth", server.uri("vol")).ok().out()))
          .containsExactly("0 5308416 0", "5308416 4096 1", "5312512 2158592 0", "7471104 8192 1",
              "7479296 42852352 0");
    }
  }

  private static java.util.List<String> lines(String map) {
    // nbdinfo prints offset, length, flags and a description; the description's words are kept, spacing is not
    return map.lines().map(String::trim).map(l -> l.replaceAll("\\s+", " ")).toList();
  }

  @Test
  void nbdinfoMapsAllocationDirtyAndDepth() throws Exception {
    Tool.require("nbdinfo");
    Tool.require("qemu-io");
    Tool.run("qemu-io", "-f", "raw", server.uri("vol"), "-c", "write -P 1 2M 1M", "-c", "flush").ok();
    String alloc = Tool.run("nbdinfo", "--map", server.uri("vol")).ok().out();
    assertThat(alloc).containsPattern("0\\s+2097152\\s+3\\s+hole,zero")
        .containsPattern("2097152\\s+1048576\\s+0\\s+data");
    String depth = Tool.run("nbdinfo", "--map=bucketdisk:allocation-depth", server.uri("vol")).ok().out();
    assertThat(depth).containsPattern("2097152\\s+1048576\\s+1");
    String dirty = Tool.run("nbdinfo", "--map=bucketdisk:dirty", server.uri("vol")).ok().out();
    assertThat(dirty).containsPattern("0\\s+50331648\\s+0");
  }
}
