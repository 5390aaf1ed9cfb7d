package io.bucketdisk.nbd.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.TestServer;
import io.bucketdisk.nbd.server.ServerOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** nbdcopy over four connections (multi-conn) and nbdinfo --map of our metadata contexts. */
@Timeout(120)
class CacheNbdcopyInteropIT {
  static final int CHUNK = 1 << 20;
  MemoryVolumeSource source;
  MemoryChunkStore store;
  TestServer server;
  Path dir;

  @BeforeEach
  void start() throws Exception {
    source = new MemoryVolumeSource();
    store = source.add("vol", 48L * CHUNK, CHUNK);
    var cache = new ChunkCache(new CacheConfig(24L * CHUNK, 8L * CHUNK, CHUNK, 4, 4, 4, Duration.ofSeconds(60),
        Duration.ofSeconds(30), Duration.ofSeconds(30)));
    server = new TestServer(new VolumeExportProvider(source, cache, null), ServerOptions.defaults());
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
    Proc.require("nbdcopy");
    byte[] data = new byte[48 * CHUNK];
    Random rnd = new Random(3);
    for (int c = 0; c < 48; c++) {
      if (c % 3 != 1) { // every third chunk stays a hole
        byte[] part = new byte[CHUNK];
        rnd.nextBytes(part);
        System.arraycopy(part, 0, data, c * CHUNK, CHUNK);
      }
    }
    Path src = dir.resolve("src.img");
    Path back = dir.resolve("back.img");
    Files.write(src, data);
    Proc.run("nbdcopy", "-C", "4", "-T", "4", "--flush", src.toString(), server.uri("vol")).ok();
    assertThat(store.image()).as("store objects after nbdcopy --flush").isEqualTo(data);
    assertThat(store.chunks).hasSize(32);
    Proc.run("nbdcopy", "-C", "4", server.uri("vol"), back.toString()).ok();
    assertThat(Files.readAllBytes(back)).isEqualTo(data);
  }

  @Test
  void nbdinfoMapsAllocationDirtyAndDepth() throws Exception {
    Proc.require("nbdinfo");
    Proc.require("qemu-io");
    Proc.run("qemu-io", "-f", "raw", server.uri("vol"), "-c", "write -P 1 2M 1M", "-c", "flush").ok();
    String alloc = Proc.run("nbdinfo", "--map", server.uri("vol")).ok().out();
    assertThat(alloc).containsPattern("0\\s+2097152\\s+3\\s+hole,zero")
        .containsPattern("2097152\\s+1048576\\s+0\\s+data");
    String depth = Proc.run("nbdinfo", "--map=bucketdisk:allocation-depth", server.uri("vol")).ok().out();
    assertThat(depth).containsPattern("2097152\\s+1048576\\s+1");
    String dirty = Proc.run("nbdinfo", "--map=bucketdisk:dirty", server.uri("vol")).ok().out();
    assertThat(dirty).containsPattern("0\\s+50331648\\s+0");
  }
}
