package io.bucketdisk.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code deploy/bucketdisk.sh}, the JVM launcher of the image and of {@code ./bucketdisk}, run by {@code sh} with
 * {@code JAVA=echo}: the heap of {@code gateway} and {@code dev} follows {@code --cache-size} (cache +
 * max(cache/16, 16 MiB) + 64 MiB) on the serial collector with a young generation of a ninth, other commands get no
 * heap and G1, a size it cannot read is left to the command, and every command gets the native memory bounds and
 * MALLOC_ARENA_MAX=2 (docs/cache.md#memory).
 */
@Timeout(30)
class LauncherTest {

  @Test
  void theGatewayHeapFollowsTheCacheSize() throws Exception {
    assertThat(launch("gateway", "--store", "file:///x", "--cache-size", "256Mi")).contains(" -Xmx336m ");
    assertThat(launch("gateway", "--cache-size=2Gi", "--store", "s3://b")).contains(" -Xmx2240m ");
    assertThat(launch("gateway", "--cache-size", "1G")).contains(" -Xmx1077m ");
    assertThat(launch("dev")).as("dev's default cache, 1Gi").contains(" -Xmx1152m ");
    assertThat(launch("gateway", "--cache-size", "64Mi")).as("at least 16 MiB of headroom").contains(" -Xmx144m ");
    assertThat(launch("gateway", "--cache-size", "256Mi", "--disk-cache", "/d", "--disk-cache-size", "100Gi"))
        .as("plus the disk tier's index, 128 bytes per 64 KiB slot").contains(" -Xmx536m ");
    assertThat(launch("dev", "--disk-cache-size=2Gi")).contains(" -Xmx1156m ");
    assertThat(launch("--help")).doesNotContain("-Xmx");
    assertThat(launch("volume", "ls", "--store", "file:///x")).doesNotContain("-Xmx");
    assertThat(launch("gateway", "--cache-size", "1.5Gi")).as("left to the command's own error").doesNotContain("-Xmx");
    String line = launch("gateway", "--cache-size", "512Mi");
    assertThat(line).contains(" -XX:+UseSerialGC -XX:NewRatio=8 ").doesNotContain("G1")
        .contains("--enable-native-access=ALL-UNNAMED")
        .endsWith("io.bucketdisk.app.Main gateway --cache-size 512Mi");
    assertThat(launch("controller")).contains(" -XX:+UseG1GC ").doesNotContain("SerialGC").doesNotContain("NewRatio");
  }

  @Test
  void everyCommandGetsTheNativeMemoryBounds(@TempDir Path dir) throws Exception {
    for (String command : List.of("gateway", "dev", "controller", "node")) {
      assertThat(launch(command)).as(command).contains(" -XX:ReservedCodeCacheSize=64m ",
          " -XX:MaxMetaspaceSize=128m ", " -XX:TrimNativeHeapInterval=5000 ", " -Djdk.nio.maxCachedBufferSize=262144 ");
    }
    // a "java" that prints the malloc arena limit it was started with
    Path java = dir.resolve("java");
    Files.writeString(java, "#!/bin/sh\necho \"arenas=$MALLOC_ARENA_MAX\"\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwx------"));
    assertThat(launchWith(java.toString(), null, "gateway")).isEqualTo("arenas=2");
    assertThat(launchWith(java.toString(), "4", "gateway")).as("one set by the caller stays").isEqualTo("arenas=4");
  }

  private static String launch(String... args) throws Exception {
    return launchWith("echo", null, args);
  }

  private static String launchWith(String java, String arenas, String... args) throws Exception {
    var cmd = new ArrayList<>(List.of("sh", "bucketdisk.sh"));
    cmd.addAll(List.of(args));
    var pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("JAVA", java);
    pb.environment().remove("BUCKETDISK_JAVA_OPTS");
    pb.environment().remove("MALLOC_ARENA_MAX");
    if (arenas != null) {
      pb.environment().put("MALLOC_ARENA_MAX", arenas);
    }
    Process p = pb.start();
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
  }
}
