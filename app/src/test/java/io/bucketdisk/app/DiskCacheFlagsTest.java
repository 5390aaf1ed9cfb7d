package io.bucketdisk.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.engine.cache.DiskTier;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code --disk-cache DIR --disk-cache-size SIZE} on {@code gateway} and {@code dev}: both or neither, one-line errors. */
@Timeout(30)
class DiskCacheFlagsTest {
  @TempDir Path dir;

  @Test
  void bothFlagsParseOnGatewayAndDevAndOpenATierOfThatSize() throws Exception {
    var gateway = new GatewayCommand();
    new CommandLine(gateway).parseArgs("--store", "memory://", "--disk-cache", dir.toString(), "--disk-cache-size",
        "64Mi");
    assertThat(gateway.diskCache).isEqualTo(dir);
    assertThat(gateway.diskCacheSize).isEqualTo("64Mi");
    var dev = new DevCommand();
    new CommandLine(dev).parseArgs("--disk-cache", dir.toString(), "--disk-cache-size", "1Gi");
    assertThat(dev.diskCache).isEqualTo(dir);
    assertThat(dev.diskCacheSize).isEqualTo("1Gi");

    try (DiskTier disk = StoreWiring.diskTier(dir, "64Mi")) {
      assertThat(disk.capacityBytes()).isEqualTo(64L << 20);
      assertThat(Files.size(dir.resolve("bucketdisk-disk-cache.bin"))).isEqualTo(64L << 20);
    }
    assertThat(StoreWiring.diskTier(null, null)).as("off by default").isNull();
  }

  @Test
  void oneWithoutTheOtherOrABadValueIsAOneLineErrorNamingTheFix() {
    assertThatThrownBy(() -> StoreWiring.diskTier(dir, null)).isInstanceOf(UserError.class)
        .hasMessageStartingWith("--disk-cache and --disk-cache-size go together: give both");
    assertThatThrownBy(() -> StoreWiring.diskTier(null, "1Gi")).isInstanceOf(UserError.class)
        .hasMessageStartingWith("--disk-cache and --disk-cache-size go together");
    assertThatThrownBy(() -> StoreWiring.diskTier(dir, "lots")).isInstanceOf(UserError.class)
        .hasMessageStartingWith("--disk-cache-size: ").hasMessageNotContaining("\n");
    assertThatThrownBy(() -> StoreWiring.diskTier(dir.resolve("missing"), "1Gi")).isInstanceOf(UserError.class)
        .hasMessageContaining("is not a directory: create it").hasMessageNotContaining("\n");
    assertThatThrownBy(() -> StoreWiring.diskTier(dir, "1Mi")).isInstanceOf(UserError.class)
        .hasMessageContaining("must be from").hasMessageNotContaining("\n");
    assertThatThrownBy(() -> StoreWiring.diskTier(dir, "64Ti")).isInstanceOf(UserError.class)
        .hasMessageContaining("free").hasMessageContaining("lower the size").hasMessageNotContaining("\n");

    var gateway = new GatewayCommand();
    new CommandLine(gateway).parseArgs("--store", "file:///nonexistent/bd-dcf", "--control=unix:///tmp/bd-dcf.sock",
        "--disk-cache", dir.toString());
    assertThatThrownBy(gateway::call).isInstanceOf(UserError.class).hasMessageContaining("go together");
    var memory = new GatewayCommand();
    new CommandLine(memory).parseArgs("--store", "memory://", "--control=unix:///tmp/bd-dcf.sock", "--disk-cache",
        dir.toString(), "--disk-cache-size", "64Mi");
    assertThatThrownBy(memory::call).isInstanceOf(UserError.class).hasMessageContaining("memory:// store has no");
  }
}
