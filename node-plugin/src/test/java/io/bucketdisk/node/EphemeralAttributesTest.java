package io.bucketdisk.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.proto.csi.VolumeCapability;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class EphemeralAttributesTest {
  static final VolumeCapability EXT4 = cap("");
  static final String POD = "csi.storage.k8s.io/pod.name";

  static VolumeCapability cap(String fs) {
    return VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs)).build();
  }

  static void assertInvalid(Map<String, String> ctx, String... inMessage) {
    assertThatThrownBy(() -> EphemeralAttributes.parse(ctx, EXT4)).isInstanceOfSatisfying(StatusRuntimeException.class,
        e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
          assertThat(e.getStatus().getDescription()).contains(inMessage);
        });
  }

  @Test
  void defaultsAreOneGibibyteExt4AndTheGatewaysChunkSize() {
    var a = EphemeralAttributes.parse(Map.of(EphemeralAttributes.EPHEMERAL_KEY, "true", POD, "web-0",
        "csi.storage.k8s.io/pod.namespace", "ns", "csi.storage.k8s.io/serviceAccount.name", "default"), EXT4);
    assertThat(a.sizeBytes()).isEqualTo(1L << 30);
    assertThat(a.chunkSize()).isZero();
    assertThat(a.fsType()).isEqualTo("ext4");
    assertThat(a.labels()).containsOnly(Map.entry("fsType", "ext4"), Map.entry(POD, "web-0"),
        Map.entry("csi.storage.k8s.io/pod.namespace", "ns"));
  }

  @Test
  void sizesAreKubernetesQuantitiesRoundedUpTo4KiB() {
    assertThat(EphemeralAttributes.parse(Map.of("size", "512Mi"), EXT4).sizeBytes()).isEqualTo(512L << 20);
    assertThat(EphemeralAttributes.parse(Map.of("size", "2Gi"), EXT4).sizeBytes()).isEqualTo(2L << 30);
    assertThat(EphemeralAttributes.parse(Map.of("size", "100M"), EXT4).sizeBytes()).isEqualTo(100_003_840L);
    assertThat(EphemeralAttributes.parse(Map.of("size", "33554432"), EXT4).sizeBytes()).isEqualTo(32L << 20);
    assertThat(EphemeralAttributes.parse(Map.of("size", " 1Ti "), EXT4).sizeBytes()).isEqualTo(1L << 40);
    assertThat(EphemeralAttributes.parse(Map.of("size", "1.5Gi"), EXT4).sizeBytes()).isEqualTo(3L << 29);
  }

  @Test
  void chunkSizeAndFileSystemFromAttributesOrCapability() {
    var a = EphemeralAttributes.parse(Map.of("size", "1Gi", "chunkSize", "1Mi", "fsType", "xfs"), EXT4);
    assertThat(a.chunkSize()).isEqualTo(1 << 20);
    assertThat(a.fsType()).isEqualTo("xfs");
    assertThat(EphemeralAttributes.parse(Map.of(), cap("xfs")).fsType()).isEqualTo("xfs");
    assertThat(EphemeralAttributes.parse(Map.of("fsType", "ext4"), cap("xfs")).fsType()).isEqualTo("ext4");
  }

  @Test
  void badAttributesAreInvalidArgumentsNamingTheKey() {
    assertInvalid(Map.of("sizee", "1Gi"), "'sizee'", "size");
    assertInvalid(Map.of("size", "lots"), "size", io.bucketdisk.common.size.ByteSize.error("lots"));
    assertInvalid(Map.of("size", "1.5.Gi"), "size");
    assertInvalid(Map.of("size", "-1Gi"), "size");
    assertInvalid(Map.of("size", "1Mi"), "size", "out of range");
    assertInvalid(Map.of("size", "2Pi"), "size", "out of range");
    assertInvalid(Map.of("size", "99999999999999999999"), "size");
    assertInvalid(Map.of("size", "9999999999P"), "size", "more bytes than a size can be");
    assertInvalid(Map.of("chunkSize", "3Mi"), "chunkSize", "power of two");
    assertInvalid(Map.of("chunkSize", "128Mi"), "chunkSize");
    assertInvalid(Map.of("fsType", "btrfs"), "fsType", "btrfs");
    assertInvalid(Map.of("fsType", "xfs", "size", "64Mi"), "xfs", "300Mi");
  }

  @Test
  void onlyKubeletsTrueMarksAnEphemeralVolume() {
    assertThat(EphemeralAttributes.isEphemeral(Map.of(EphemeralAttributes.EPHEMERAL_KEY, "true"))).isTrue();
    assertThat(EphemeralAttributes.isEphemeral(Map.of(EphemeralAttributes.EPHEMERAL_KEY, "false"))).isFalse();
    assertThat(EphemeralAttributes.isEphemeral(Map.of("size", "1Gi"))).isFalse();
  }
}
