package io.bucketdisk.nbd.interop;

import io.bucketdisk.testing.Tool;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.TestServer;
import io.bucketdisk.nbd.server.ServerOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code nbdcopy -C 4}: four connections to one multi-conn export, with FLUSH on each, in and out. */
@Timeout(180)
class NbdcopyInteropIT {

  @Test
  void copyInAndOutOverFourConnections() throws Exception {
    Tool.require("nbdcopy");
    var counting = new CountingProvider(TestServer.defaultProvider(64L << 20));
    Path dir = Files.createTempDirectory("bdcopy");
    Path src = dir.resolve("src.raw");
    Path back = dir.resolve("back.raw");
    try (var server = new TestServer(counting, ServerOptions.defaults())) {
      byte[] data = new byte[64 << 20];
      new Random(7).nextBytes(data);
      java.util.Arrays.fill(data, 16 << 20, 32 << 20, (byte) 0);
      Files.write(src, data);
      Tool.run("nbdcopy", "-C", "4", "-T", "4", "--flush", src.toString(), server.uri("demo")).ok();
      assertThat(counting.opens()).as("connections opened by nbdcopy -C 4").isGreaterThanOrEqualTo(4);
      Tool.run("nbdcopy", "-C", "4", server.uri("demo"), back.toString()).ok();
      assertThat(Files.mismatch(src, back)).isEqualTo(-1);
    } finally {
      Files.deleteIfExists(src);
      Files.deleteIfExists(back);
      Files.deleteIfExists(dir);
    }
  }
}
