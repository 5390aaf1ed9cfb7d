package io.bucketdisk.app;

import static io.bucketdisk.app.GatewaySessionIT.cli;
import static io.bucketdisk.app.GatewaySessionIT.nbdAddress;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.testing.ChildJvm;
import io.bucketdisk.testing.Tool;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A chunk object damaged in the store (one bit flipped on disk, as a bad disk or a broken copy might) is never served:
 * the real gateway answers the NBD read of that 64 KiB with EIO, logs volume and key, and counts it in /metrics;
 * the rest of the chunk reads fine.
 */
@Timeout(180)
class ChunkChecksumIT {

  @Test
  void aDamagedChunkObjectIsEioNotWrongBytes() throws Exception {
    Tool.require("qemu-io");
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "bdcrc");
    String url = dir.resolve("store").toUri().toString();
    List<ChildJvm> started = new ArrayList<>();
    try {
      cli("volume", "create", "v1", "--size", "16Mi", "--store", url);
      ChildJvm gw = gateway(url, dir, started, freePort());
      // FUA (qemu-io's default writethrough): in the store when it replies
      GatewaySessionIT.qemuIo(nbdAddress(gw) + "/v1", "write -P 0x3c 0 4M");
      assertThat(gw.stop(Duration.ofSeconds(30))).isTrue();

      Path object;
      try (Stream<Path> files = Files.walk(dir.resolve("store/volumes/v1/chunks"))) {
        object = files.filter(Files::isRegularFile).findFirst().orElseThrow();
      }
      assertThat(Files.size(object)).as("4 MiB and 64 CRC32Cs").isEqualTo((4L << 20) + 256);
      try (var f = new RandomAccessFile(object.toFile(), "rw")) {
        long at = 5L * (65536 + 4) + 1000; // granule 5: chunk bytes 327680..393215
        f.seek(at);
        int b = f.read();
        f.seek(at);
        f.write(b ^ 0x04);
      }

      int metricsPort = freePort();
      gw = gateway(url, dir, started, metricsPort);
      String nbd = nbdAddress(gw) + "/v1";
      GatewaySessionIT.qemuIo(nbd, "read -P 0x3c 0 64k", "read -P 0x3c 1M 64k");
      var bad = Tool.run(60, "qemu-io", "-f", "raw", "-r", "-c", "read -P 0x3c 320k 64k", nbd);
      assertThat(bad.out() + bad.err()).as("the damaged range").contains("Input/output error")
          .doesNotContain("Pattern verification failed");
      gw.awaitLine(l -> l.contains("volume v1: chunk 0") && l.contains("is damaged in the store")
          && l.contains("CRC32C mismatch"), Duration.ofSeconds(10));
      String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + metricsPort + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
      assertThat(metrics.lines().filter(l -> l.startsWith("bucketdisk_store_checksum_mismatches_total")))
          .singleElement().satisfies(l -> assertThat(Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
              .isGreaterThanOrEqualTo(1));
    } finally {
      GatewaySessionIT.closeAll(started, dir);
    }
  }

  private static ChildJvm gateway(String url, Path dir, List<ChildJvm> started, int metricsPort) throws Exception {
    ChildJvm p = DevCommandIT.start("gateway", "--store", url, "--listen", "127.0.0.1:0", "--cache-size", "128Mi",
        "--control", "unix://" + dir.resolve("control.sock"), "--metrics", "127.0.0.1:" + metricsPort);
    started.add(p);
    return p;
  }

  private static int freePort() throws Exception {
    try (var s = new java.net.ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
