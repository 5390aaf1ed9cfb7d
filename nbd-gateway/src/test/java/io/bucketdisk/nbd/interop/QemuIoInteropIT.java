package io.bucketdisk.nbd.interop;

import io.bucketdisk.testing.Tool;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.TestServer;
import io.bucketdisk.nbd.export.MemoryExportProvider;
import io.bucketdisk.nbd.server.ServerOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code qemu-io} against the gateway: pattern write/read/verify, zeroing variants, discard, flush, FUA. */
@Timeout(120)
class QemuIoInteropIT {
  static TestServer server;
  static MemoryExportProvider provider;

  @BeforeAll
  static void start() throws Exception {
    provider = TestServer.defaultProvider(64L << 20);
    server = new TestServer(provider, ServerOptions.defaults());
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  @BeforeEach
  void tool() {
    Tool.require("qemu-io");
  }

  static Tool.Result io(String uri, String... commands) throws Exception {
    var cmd = new java.util.ArrayList<String>(java.util.List.of("qemu-io", "-f", "raw", "-t", "none", uri));
    for (String c : commands) {
      cmd.add("-c");
      cmd.add(c);
    }
    return Tool.run(cmd.toArray(String[]::new)).ok();
  }

  @Test
  void patternWriteReadVerify() throws Exception {
    var r = io(server.uri("demo"), "write -P 0xab 0 1M", "read -P 0xab 0 1M", "write -P 0xcd 1536 512",
        "read -P 0xcd 1536 512", "read -P 0xab 0 1536", "read -P 0xab 2048 1046528");
    assertThat(r.out()).contains("wrote 1048576/1048576 bytes at offset 0", "read 512/512 bytes at offset 1536");
    assertThat(r.out()).doesNotContain("Pattern verification failed");
    assertThat(r.err()).doesNotContain("failed");
  }

  @Test
  void zeroVariantsDiscardAndFlush() throws Exception {
    var r = io(server.uri("demo"), "write -P 0x55 4M 6M", "write -z 4M 1M", "write -z -u 5M 1M",
        "write -z -n 6M 1M", "discard 7M 1M", "flush", "read -P 0 4M 2M", "read -P 0 6M 1M",
        "read -P 0 7M 1M", "read -P 0x55 8M 2M");
    assertThat(r.out()).contains("wrote 1048576/1048576 bytes at offset 4194304",
        "discard 1048576/1048576 bytes at offset 7340032", "read 2097152/2097152 bytes at offset 8388608");
    assertThat(r.out() + r.err()).doesNotContain("Pattern verification failed", "error");
    // -z -u may punch whole pages: the 1 MiB at 5M is a hole now.
    assertThat(provider.export("demo").orElseThrow().allocatedPages()).isLessThan(6 * 16 + 1);
  }

  @Test
  void fuaWritesOverUnixSocket() throws Exception {
    var r = io(server.unixUri("demo"), "write -f -P 0x77 20M 128k", "read -P 0x77 20M 128k",
        "aio_write -f -P 0x78 21M 64k", "aio_flush", "read -P 0x78 21M 64k");
    assertThat(r.out()).contains("wrote 131072/131072 bytes at offset 20971520",
        "read 65536/65536 bytes at offset 22020096");
    assertThat(r.out() + r.err()).doesNotContain("Pattern verification failed");
  }

  @Test
  void writeToReadOnlyExportFails() throws Exception {
    var r = Tool.run("qemu-io", "-f", "raw", "-r", server.uri("ro"), "-c", "read -P 0 0 4k");
    assertThat(r.ok().out()).contains("read 4096/4096 bytes at offset 0");
    var w = Tool.run("qemu-io", "-f", "raw", server.uri("ro"), "-c", "write -P 1 0 4k");
    assertThat(w.exit()).isNotZero();
    assertThat(w.out() + w.err()).contains("Permission denied");
  }
}
