package io.bucketdisk.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code deploy/bucketdisk.sh}, the JVM launcher of the image and of {@code ./bucketdisk}, run by {@code sh} with
 * {@code JAVA=echo}: the heap of {@code gateway} and {@code dev} follows {@code --cache-size} (cache + cache/16 +
 * 128 MiB), other commands get none, and a size it cannot read is left to the command.
 */
@Timeout(30)
class LauncherTest {

  @Test
  void theGatewayHeapFollowsTheCacheSize() throws Exception {
    assertThat(launch("gateway", "--store", "file:///x", "--cache-size", "256Mi")).contains(" -Xmx400m ");
    assertThat(launch("gateway", "--cache-size=2Gi", "--store", "s3://b")).contains(" -Xmx2304m ");
    assertThat(launch("gateway", "--cache-size", "1G")).contains(" -Xmx1141m ");
    assertThat(launch("dev")).as("dev's default cache, 1Gi").contains(" -Xmx1216m ");
    assertThat(launch("gateway", "--cache-size", "256Mi", "--disk-cache", "/d", "--disk-cache-size", "100Gi"))
        .as("plus the disk tier's index, 128 bytes per 64 KiB slot").contains(" -Xmx600m ");
    assertThat(launch("dev", "--disk-cache-size=2Gi")).contains(" -Xmx1220m ");
    assertThat(launch("--help")).doesNotContain("-Xmx");
    assertThat(launch("volume", "ls", "--store", "file:///x")).doesNotContain("-Xmx");
    assertThat(launch("gateway", "--cache-size", "1.5Gi")).as("left to the command's own error").doesNotContain("-Xmx");
    String line = launch("gateway", "--cache-size", "512Mi");
    assertThat(line).contains("-XX:+UseG1GC").contains("--enable-native-access=ALL-UNNAMED")
        .endsWith("io.bucketdisk.app.Main gateway --cache-size 512Mi");
  }

  private static String launch(String... args) throws Exception {
    var cmd = new ArrayList<>(List.of("sh", "bucketdisk.sh"));
    cmd.addAll(List.of(args));
    var pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("JAVA", "echo");
    pb.environment().remove("BUCKETDISK_JAVA_OPTS");
    Process p = pb.start();
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
  }
}
