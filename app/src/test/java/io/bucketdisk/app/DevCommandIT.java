package io.bucketdisk.app;

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

  static Process start(String... args) throws IOException {
    var cmd = new ArrayList<String>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "io.bucketdisk.app.Main"));
    cmd.addAll(List.of(args));
    Path log = Files.createTempFile("bdapp", ".log");
    log.toFile().deleteOnExit();
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    LOG_OF.put(p, log);
    return p;
  }

  static final java.util.Map<Process, Path> LOG_OF = new java.util.concurrent.ConcurrentHashMap<>();

  static String output(Process p) throws IOException {
    return Files.readString(LOG_OF.get(p), StandardCharsets.UTF_8);
  }

  static List<String> readUntil(Process p, String marker) throws Exception {
    for (int i = 0; i < 600; i++) {
      String out = output(p);
      if (out.contains(marker)) {
        return out.lines().toList().subList(0, (int) out.lines().takeWhile(l -> !l.contains(marker)).count() + 1);
      }
      if (!p.isAlive()) {
        break;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("no '" + marker + "' in the output: " + output(p));
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
    Process p = start("dev", "--data", data.toString(), "--port", "0");
    try {
      var lines = readUntil(p, "Ctrl-C stops");
      var tcp = lines.stream().filter(l -> l.startsWith("nbd://127.0.0.1:")).findFirst().orElseThrow();
      var unix = lines.stream().filter(l -> l.startsWith("nbd+unix:///demo?socket=")).findFirst().orElseThrow();
      assertThat(tcp).matches(Pattern.compile("nbd://127\\.0\\.0\\.1:\\d+/demo"));
      assertThat(unix).isEqualTo("nbd+unix:///demo?socket=" + data.toRealPath().resolve("nbd.sock"));
      assertThat(nbdinfo("--size", tcp).trim()).isEqualTo("1073741824");
      assertThat(nbdinfo("--size", unix).trim()).isEqualTo("1073741824");
      p.destroy(); // SIGTERM
      assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("stopped after SIGTERM").isTrue();
      assertThat(output(p)).contains("NBD server stopped");
      assertThat(data.resolve("nbd.sock")).doesNotExist();
    } finally {
      p.destroyForcibly();
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
    Process p = start("gateway", "--store", "memory://", "--listen", "127.0.0.1:0");
    try {
      var lines = readUntil(p, "serving NBD on");
      String addr = lines.getLast().substring(lines.getLast().indexOf("serving NBD on ") + 15).trim();
      assertThat(nbdinfo("--list", "nbd://" + addr)).contains("export=\"demo\"");
      p.destroy();
      assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void badFlagsGetOneLineNamingTheFix() throws Exception {
    Process p = start("gateway", "--store", "memory://", "--listen", "nowhere");
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    String out = output(p).trim();
    assertThat(p.exitValue()).isEqualTo(1);
    assertThat(out.lines().filter(l -> l.startsWith("bucketdisk:")).toList())
        .containsExactly("bucketdisk: --listen " + io.bucketdisk.common.net.Endpoint.error("nowhere"));
    assertThat(out).doesNotContain("Exception");
  }
}
