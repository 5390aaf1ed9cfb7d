package io.bucketdisk.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code deploy/bucketdisk.sh}, the JVM launcher of the image and of {@code ./bucketdisk}, run by {@code sh} with
 * {@code JAVA=echo}: the heap of {@code gateway} and {@code dev} follows {@code --cache-size} (cache + 80 MiB: an
 * old generation of the cache + 48 MiB and a young one of 32 MiB, committed from the start) on the serial collector
 * and, where the kernel gives transparent huge pages on request, on those; other commands get no heap and G1, a size
 * it cannot read is left to the command, a -Xmx of the caller's wins, and every command gets the native memory bounds
 * and MALLOC_ARENA_MAX=2 (docs/cache.md#memory).
 */
@Timeout(30)
class LauncherTest {

  @Test
  void theGatewayHeapFollowsTheCacheSize() throws Exception {
    assertThat(launch("gateway", "--store", "file:///x", "--cache-size", "256Mi")).contains(" -Xms336m -Xmx336m -Xmn32m ");
    assertThat(launch("gateway", "--cache-size", "512Mi")).contains(" -Xms592m -Xmx592m -Xmn32m ");
    assertThat(launch("gateway", "--cache-size=2Gi", "--store", "s3://b")).contains(" -Xms2128m -Xmx2128m -Xmn32m ");
    assertThat(launch("gateway", "--cache-size", "1G")).contains(" -Xms1033m -Xmx1033m ");
    assertThat(launch("dev")).as("dev's default cache, 1Gi").contains(" -Xms1104m -Xmx1104m -Xmn32m ");
    assertThat(launch("gateway", "--cache-size", "64Mi")).contains(" -Xmx144m -Xmn32m ");
    assertThat(launch("gateway", "--cache-size", "256Mi", "--disk-cache", "/d", "--disk-cache-size", "100Gi"))
        .as("plus the disk tier's index, 128 bytes per 64 KiB slot").contains(" -Xmx536m ");
    assertThat(launch("dev", "--disk-cache-size=2Gi")).contains(" -Xmx1108m ");
    assertThat(launch("--help")).doesNotContain("-Xmx");
    assertThat(launch("volume", "ls", "--store", "file:///x")).doesNotContain("-Xmx");
    assertThat(launch("gateway", "--cache-size", "1.5Gi")).as("left to the command's own error").doesNotContain("-Xmx");
    String line = launch("gateway", "--cache-size", "512Mi");
    assertThat(line).contains(" -XX:+UseSerialGC ").doesNotContain("G1").doesNotContain("NewRatio")
        .contains("--enable-native-access=ALL-UNNAMED")
        .endsWith("io.bucketdisk.app.Main gateway --cache-size 512Mi");
    assertThat(launch("controller")).contains(" -XX:+UseG1GC ").doesNotContain("SerialGC").doesNotContain("NewRatio");
  }

  @Test
  void aMaximumHeapOfTheCallersWins() throws Exception {
    for (String var : List.of("BUCKETDISK_JAVA_OPTS", "JAVA_TOOL_OPTIONS")) {
      String line = launchWith("echo", Map.of(var, "-Xmx900m"), "gateway", "--cache-size", "256Mi");
      assertThat(line).as(var).doesNotContain("-Xms").doesNotContain("-Xmx336m").contains(" -XX:+UseSerialGC ");
    }
  }

  @Test
  void anotherCollectorOfTheCallersGetsHalfAsMuchAgainForTheCache() throws Exception {
    var zgc = Map.of("BUCKETDISK_JAVA_OPTS", "-XX:-UseSerialGC -XX:+UseZGC");
    assertThat(launchWith("echo", zgc, "gateway", "--cache-size", "256Mi"))
        .as("256 * 3/2 + 80").contains(" -Xms464m -Xmx464m ").doesNotContain("-Xmn")
        .endsWith("-XX:-UseSerialGC -XX:+UseZGC -cp /opt/bucketdisk/lib/* io.bucketdisk.app.Main gateway --cache-size 256Mi");
    assertThat(launchWith("echo", Map.of("JAVA_TOOL_OPTIONS", "-XX:-UseSerialGC -XX:+UseG1GC"), "dev"))
        .contains(" -Xms1616m -Xmx1616m ");
    assertThat(launchWith("echo", Map.of("BUCKETDISK_JAVA_OPTS", "-XX:-UseSerialGC -Xmx3g"), "gateway"))
        .as("a -Xmx of theirs still wins").doesNotContain("-Xms").doesNotContain("-Xmx1");
  }

  @Test
  void theCacheHeapTakesTransparentHugePagesWhereTheKernelGivesThemOnRequest(@TempDir Path dir) throws Exception {
    Path thp = dir.resolve("enabled");
    Files.writeString(thp, "always [madvise] never\n");
    var madvise = Map.of("BUCKETDISK_THP_ENABLED", thp.toString());
    assertThat(launchWith("echo", madvise, "gateway", "--cache-size", "256Mi"))
        .contains(" -Xms336m -Xmx336m -Xmn32m -XX:+UseTransparentHugePages ");
    assertThat(launchWith("echo", madvise, "dev")).contains(" -XX:+UseTransparentHugePages ");
    assertThat(launchWith("echo", madvise, "controller")).doesNotContain("TransparentHugePages");
    // "always" backs the heap without the flag; "never" or no such file (not Linux): nothing to ask for
    for (String setting : List.of("[always] madvise never", "always madvise [never]")) {
      Files.writeString(thp, setting + "\n");
      assertThat(launchWith("echo", madvise, "gateway")).as(setting).doesNotContain("TransparentHugePages");
    }
    assertThat(launchWith("echo", Map.of("BUCKETDISK_THP_ENABLED", dir.resolve("none").toString()), "gateway"))
        .doesNotContain("TransparentHugePages").contains(" -Xms1104m -Xmx1104m ");
  }

  @Test
  void everyCommandGetsTheNativeMemoryBounds(@TempDir Path dir) throws Exception {
    for (String command : List.of("gateway", "dev", "controller", "node")) {
      assertThat(launch(command)).as(command).contains(" -XX:ReservedCodeCacheSize=64m ",
          " -XX:MaxMetaspaceSize=128m ", " -XX:TrimNativeHeapInterval=5000 ", " -Djdk.nio.maxCachedBufferSize=0 ",
          " -XX:CompileCommand=quiet -XX:CompileCommand=MemLimit,*.*,40m ", " -XX:+ExitOnOutOfMemoryError ");
    }
    // a "java" that prints the malloc arena limit it was started with
    Path java = dir.resolve("java");
    Files.writeString(java, "#!/bin/sh\necho \"arenas=$MALLOC_ARENA_MAX\"\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwx------"));
    assertThat(launchWith(java.toString(), Map.of(), "gateway")).isEqualTo("arenas=2");
    assertThat(launchWith(java.toString(), Map.of("MALLOC_ARENA_MAX", "4"), "gateway"))
        .as("one set by the caller stays").isEqualTo("arenas=4");
  }

  private static String launch(String... args) throws Exception {
    return launchWith("echo", Map.of(), args);
  }

  private static String launchWith(String java, Map<String, String> env, String... args) throws Exception {
    var cmd = new ArrayList<>(List.of("sh", "bucketdisk.sh"));
    cmd.addAll(List.of(args));
    var pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("JAVA", java);
    for (String var : List.of("BUCKETDISK_JAVA_OPTS", "JAVA_TOOL_OPTIONS", "MALLOC_ARENA_MAX")) {
      pb.environment().remove(var);
    }
    // the kernel's setting is the machine's: the tests name theirs (an absent file unless they say)
    pb.environment().put("BUCKETDISK_THP_ENABLED", "/nonexistent");
    pb.environment().putAll(env);
    Process p = pb.start();
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
  }
}
