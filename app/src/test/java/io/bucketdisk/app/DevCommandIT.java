package io.bucketdisk.app;

import java.time.Duration;
import io.bucketdisk.testing.ChildJvm;
import io.bucketdisk.testing.Tool;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code bucketdisk dev} and {@code bucketdisk gateway --store memory://} as real processes: they print where they
 * serve, nbdinfo reads the export over TCP and the Unix socket, and SIGTERM stops them cleanly (lame duck, exit 0
 * within the grace period, socket file removed).
 */
@Timeout(120)
class DevCommandIT {

  /** {@code bucketdisk ARGS} in a child JVM; its output goes to a temporary log. */
  static ChildJvm start(String... args) throws IOException {
    Path log = Files.createTempFile("bdapp", ".log");
    log.toFile().deleteOnExit();
    return ChildJvm.start(log, "io.bucketdisk.app.Main", args);
  }

  static String output(ChildJvm p) {
    return p.output();
  }

  /** The lines the child printed up to the first that contains {@code marker} (waits at most 60 s). */
  static List<String> readUntil(ChildJvm p, String marker) throws Exception {
    String last = p.awaitLine(marker, Duration.ofSeconds(60));
    var lines = p.output().lines().toList();
    return lines.subList(0, lines.indexOf(last) + 1);
  }

  static String nbdinfo(String... args) throws Exception {
    var cmd = new ArrayList<String>(List.of("nbdinfo"));
    cmd.addAll(List.of(args));
    var p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }

  @Test
  void devServesDemoOnTcpAndUnixAndStopsOnSigterm() throws Exception {
    Tool.require("nbdinfo");
    Path data = Files.createTempDirectory(Path.of("/tmp"), "bddev");
    ChildJvm p = start("dev", "--data", data.toString(), "--port", "0");
    try {
      var lines = readUntil(p, "Ctrl-C stops");
      var tcp = lines.stream().filter(l -> l.startsWith("nbd://127.0.0.1:")).findFirst().orElseThrow();
      var unix = lines.stream().filter(l -> l.startsWith("nbd+unix:///demo?socket=")).findFirst().orElseThrow();
      assertThat(tcp).matches(Pattern.compile("nbd://127\\.0\\.0\\.1:\\d+/demo"));
      assertThat(unix).isEqualTo("nbd+unix:///demo?socket=" + data.toRealPath().resolve("nbd.sock"));
      assertThat(nbdinfo("--size", tcp).trim()).isEqualTo("1073741824");
      assertThat(nbdinfo("--size", unix).trim()).isEqualTo("1073741824");
      assertThat(p.stop(Duration.ofSeconds(20))).as("stopped after SIGTERM").isTrue();
      assertThat(output(p)).contains("NBD server stopped");
      assertThat(data.resolve("nbd.sock")).doesNotExist();
    } finally {
      p.close();
      // dev keeps its store in --data: remove the whole tree.
      try (var walk = Files.walk(data)) {
        for (Path f : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(f);
        }
      }
    }
  }

  @Test
  void gatewayWithAMemoryStore() throws Exception {
    Tool.require("nbdinfo");
    ChildJvm p = start("gateway", "--store", "memory://", "--listen", "127.0.0.1:0");
    try {
      var lines = readUntil(p, "serving NBD on");
      String addr = lines.getLast().substring(lines.getLast().indexOf("serving NBD on ") + 15).trim();
      assertThat(nbdinfo("--list", "nbd://" + addr)).contains("export=\"demo\"");
      assertThat(p.stop(Duration.ofSeconds(20))).isTrue();
    } finally {
      p.close();
    }
  }

  @Test
  void badFlagsGetOneLineNamingTheFix() throws Exception {
    ChildJvm p = start("gateway", "--store", "memory://", "--listen", "nowhere");
    assertThat(p.waitFor(Duration.ofSeconds(30))).isEqualTo(1);
    String out = output(p).trim();
    assertThat(out.lines().filter(l -> l.startsWith("bucketdisk:")).toList())
        .containsExactly("bucketdisk: --listen " + io.bucketdisk.common.net.Endpoint.error("nowhere"));
    assertThat(out).doesNotContain("Exception");
  }
}
