package io.bucketdisk.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class StagingStateTest {

  @Test
  void survivesARestartAndForgetsRemovedVolumes(@TempDir Path dir) throws Exception {
    var state = new StagingState(dir);
    var v = new StagedVolume("pvc-1/odd id", 3, "/stage/a", false, "ext4", List.of("noatime"), false,
        "SINGLE_NODE_WRITER", "127.0.0.1:10809", Map.of(), "pvc-1", false);
    state.put(v.withPublication("/pods/x", true));
    state.put(new StagedVolume("blk", 5, "/stage/b", true, "", List.of(), false, "SINGLE_NODE_WRITER", "unix:///run/nbd.sock",
        Map.of(), "", false));

    var reloaded = new StagingState(dir);
    assertThat(reloaded.get("pvc-1/odd id")).contains(v.withPublication("/pods/x", true));
    assertThat(reloaded.byDevice(5).orElseThrow().volumeId()).isEqualTo("blk");
    assertThat(reloaded.get("pvc-1/odd id").orElseThrow().withoutPublication("/pods/x").publications()).isEmpty();

    assertThat(reloaded.byDevice(5).orElseThrow().exportName()).as("defaults to the volume id").isEqualTo("blk");

    reloaded.remove("blk");
    assertThat(new StagingState(dir).all()).extracting(StagedVolume::volumeId).containsExactly("pvc-1/odd id");
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).allMatch(n -> n.endsWith(".json"));
    }
  }

  @Test
  void ephemeralRecordsKeepTheirExportNameAndOldRecordsReadAsPersistent(@TempDir Path dir) throws Exception {
    var state = new StagingState(dir);
    var eph = new StagedVolume("csi-abc", 2, "/pods/p/mount", false, "ext4", List.of(), false, "SINGLE_NODE_WRITER",
        "unix:///run/nbd.sock", Map.of("/pods/p/mount", false), "csi-abc-0011223344556677", true);
    state.put(eph);
    // A record as the plugin wrote it before ephemeral volumes existed.
    Files.writeString(dir.resolve("6f6c64.json"), """
        {"volumeId":"old","deviceIndex":1,"stagingPath":"/stage/o","block":false,"fsType":"ext4","mountFlags":[],
         "readOnly":false,"accessMode":"SINGLE_NODE_WRITER","gateway":"127.0.0.1:10809","publications":{}}
        """);
    var reloaded = new StagingState(dir);
    assertThat(reloaded.get("csi-abc")).contains(eph);
    var old = reloaded.get("old").orElseThrow();
    assertThat(old.exportName()).isEqualTo("old");
    assertThat(old.ephemeral()).isFalse();
  }
}
