package io.bucketdisk.nbd.interop;

import io.bucketdisk.testing.Tool;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code nbdinfo --map} (BLOCK_STATUS) in base:allocation and our own contexts, after qemu-io writes. */
@Timeout(120)
class NbdinfoMapInteropIT {
  static TestServer server;
  static io.bucketdisk.nbd.export.MemoryExportProvider provider;

  @BeforeAll
  static void start() throws Exception {
    provider = TestServer.defaultProvider(64L << 20);
    server = new TestServer(provider, io.bucketdisk.nbd.server.ServerOptions.defaults());
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  @Test
  void mapShowsDataHolesAndDirtyRanges() throws Exception {
    Tool.require("nbdinfo");
    Tool.require("qemu-io");
    String uri = server.uri("demo");
    Tool.run("qemu-io", "-f", "raw", "-t", "writeback", uri, "-c", "write -P 0x11 1M 1M", "-c", "flush").ok();
    // qemu-io flushes when it exits, so the unflushed write goes straight to the export.
    provider.export("demo").orElseThrow().write(8 << 20, java.nio.ByteBuffer.allocate(65536), 0);
    var map = Tool.run("nbdinfo", "--map", uri).ok().out();
    assertThat(map.lines().map(String::trim).map(l -> l.replaceAll("\\s+", " ")).toList())
        .containsExactly(
            "0 1048576 3 hole,zero",
            "1048576 1048576 0 data",
            "2097152 6291456 3 hole,zero",
            "8388608 65536 0 data",
            "8454144 58654720 3 hole,zero");
    var dirty = Tool.run("nbdinfo", "--map=bucketdisk:dirty", uri).ok().out();
    assertThat(dirty.lines().map(String::trim).map(l -> l.replaceAll("\\s+", " ")).toList())
        .as("only the write after the flush is dirty")
        .containsExactly("0 8388608 0", "8388608 65536 1", "8454144 58654720 0");
    var depth = Tool.run("nbdinfo", "--map=bucketdisk:allocation-depth", "--totals", uri).ok().out();
    assertThat(depth).contains("1114112");
  }
}
