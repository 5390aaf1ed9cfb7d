package io.bucketdisk.nbd.interop;

import io.bucketdisk.testing.Tool;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code qemu-img convert}, {@code compare} and {@code map} of a whole image through the gateway. */
@Timeout(180)
class QemuImgInteropIT {
  static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = new TestServer();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  @Test
  void convertAndCompareAWholeImage() throws Exception {
    Tool.require("qemu-img");
    Path dir = Files.createTempDirectory("bdimg");
    Path src = dir.resolve("src.raw");
    Path back = dir.resolve("back.raw");
    try {
      // 64 MiB image: random data in the first 24 MiB, a zero gap, more data at the end.
      var rnd = new Random(42);
      byte[] block = new byte[1 << 20];
      try (var out = Files.newOutputStream(src)) {
        for (int i = 0; i < 64; i++) {
          if (i < 24 || i >= 60) {
            rnd.nextBytes(block);
            out.write(block);
          } else {
            out.write(new byte[1 << 20]);
          }
        }
      }
      Tool.run("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src.toString(), server.uri("demo")).ok();
      var cmp = Tool.run("qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), server.uri("demo"));
      assertThat(cmp.ok().out()).contains("Images are identical.");
      var map = Tool.run("qemu-img", "map", "--output=json", "-f", "raw", server.uri("demo")).ok().out();
      assertThat(map).contains("\"data\": true").contains("\"zero\": true");
      Tool.run("qemu-img", "convert", "-f", "raw", "-O", "raw", server.uri("demo"), back.toString()).ok();
      assertThat(Files.mismatch(src, back)).isEqualTo(-1);
      Files.write(src, new byte[] {1}, java.nio.file.StandardOpenOption.WRITE);
      var differ = Tool.run("qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), server.uri("demo"));
      assertThat(differ.exit()).isEqualTo(1);
      assertThat(differ.out()).contains("Content mismatch at offset 0!");
    } finally {
      Files.deleteIfExists(src);
      Files.deleteIfExists(back);
      Files.deleteIfExists(dir);
    }
  }
}
