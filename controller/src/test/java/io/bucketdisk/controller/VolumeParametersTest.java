package io.bucketdisk.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class VolumeParametersTest {

  @Test
  void defaults() {
    var p = VolumeParameters.parse(Map.of(), null);
    assertThat(p).isEqualTo(new VolumeParameters(4 << 20, 0, null));
    assertThat(p.volumeContext()).containsExactly(Map.entry("chunkSize", "4194304"),
        Map.entry("readAheadChunks", "0"));
  }

  @ParameterizedTest
  @CsvSource({"64Ki, 65536", "4Mi, 4194304", "64Mi, 67108864", "1048576, 1048576", " 256Ki , 262144"})
  void chunkSizes(String value, int bytes) {
    assertThat(VolumeParameters.parse(Map.of("chunkSize", value), null).chunkSize()).isEqualTo(bytes);
  }

  @ParameterizedTest
  @ValueSource(strings = {"32Ki", "128Mi", "3Mi", "4M", "abc", "-4Mi", "0", "1Gi", ""})
  void badChunkSizesNameTheKey(String value) {
    assertThatThrownBy(() -> VolumeParameters.parse(Map.of("chunkSize", value), null))
        .isInstanceOfSatisfying(VolumeError.class, e -> {
          assertThat(e.reason()).isEqualTo(VolumeError.Reason.INVALID);
          assertThat(e.getMessage()).contains("chunkSize");
        });
  }

  @Test
  void readAheadAndFsType() {
    var p = VolumeParameters.parse(Map.of("readAheadChunks", "8", "fsType", "XFS"), null);
    assertThat(p.readAheadChunks()).isEqualTo(8);
    assertThat(p.fsType()).isEqualTo("xfs");
    assertThat(VolumeParameters.parse(Map.of(), "ext4").fsType()).isEqualTo("ext4");
    assertThatThrownBy(() -> VolumeParameters.parse(Map.of("readAheadChunks", "x"), null))
        .hasMessageContaining("readAheadChunks");
    assertThatThrownBy(() -> VolumeParameters.parse(Map.of("readAheadChunks", "65"), null))
        .hasMessageContaining("readAheadChunks");
    assertThatThrownBy(() -> VolumeParameters.parse(Map.of("fsType", "btrfs"), null)).hasMessageContaining("fsType");
    assertThatThrownBy(() -> VolumeParameters.parse(Map.of("fsType", "xfs"), "ext4"))
        .hasMessageContaining("contradicts");
    assertThatThrownBy(() -> VolumeParameters.parse(Map.of(), "ntfs")).hasMessageContaining("ntfs");
  }

  @Test
  void provisionerKeysIgnoredOthersRejected() {
    var p = VolumeParameters.parse(Map.of("csi.storage.k8s.io/pvc/name", "data",
        "csi.storage.k8s.io/pv/name", "pvc-1"), null);
    assertThat(p.chunkSize()).isEqualTo(4 << 20);
    assertThatThrownBy(() -> VolumeParameters.parse(Map.of("chunksize", "4Mi"), null))
        .isInstanceOfSatisfying(VolumeError.class, e -> assertThat(e.getMessage()).contains("'chunksize'"));
  }

  @Test
  void storedRoundTrip() {
    var p = VolumeParameters.parse(Map.of("readAheadChunks", "4"), "xfs");
    assertThat(VolumeParameters.fromStored(p.volumeContext(), p.chunkSize())).isEqualTo(p);
  }
}
