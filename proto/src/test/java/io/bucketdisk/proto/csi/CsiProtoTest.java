package io.bucketdisk.proto.csi;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Checks the generated descriptors against the CSI v1.12.0 facts: every service and RPC, and sample field numbers. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CsiProtoTest {

  private static List<String> methods(ServiceDescriptor service) {
    return service.getMethods().stream().map(m -> m.getName()).toList();
  }

  @Test
  void everyServiceHasEverySpecRpc() {
    var file = CsiProto.getDescriptor();
    assertThat(file.getPackage()).isEqualTo("csi.v1");
    assertThat(file.getServices()).extracting(ServiceDescriptor::getName)
        .containsExactly("Identity", "Controller", "GroupController", "SnapshotMetadata", "Node");
    assertThat(methods(file.findServiceByName("Identity")))
        .containsExactly("GetPluginInfo", "GetPluginCapabilities", "Probe");
    assertThat(methods(file.findServiceByName("Controller"))).containsExactly(
        "CreateVolume", "DeleteVolume", "ControllerPublishVolume", "ControllerUnpublishVolume",
        "ValidateVolumeCapabilities", "ListVolumes", "GetCapacity", "ControllerGetCapabilities",
        "CreateSnapshot", "DeleteSnapshot", "ListSnapshots", "GetSnapshot", "ControllerExpandVolume",
        "ControllerGetVolume", "ControllerModifyVolume");
    assertThat(methods(file.findServiceByName("Node"))).containsExactly(
        "NodeStageVolume", "NodeUnstageVolume", "NodePublishVolume", "NodeUnpublishVolume",
        "NodeGetVolumeStats", "NodeExpandVolume", "NodeGetCapabilities", "NodeGetInfo");
    assertThat(methods(file.findServiceByName("GroupController"))).containsExactly(
        "GroupControllerGetCapabilities", "CreateVolumeGroupSnapshot", "DeleteVolumeGroupSnapshot",
        "GetVolumeGroupSnapshot");
    assertThat(methods(file.findServiceByName("SnapshotMetadata")))
        .containsExactly("GetMetadataAllocated", "GetMetadataDelta");
    assertThat(SnapshotMetadataGrpc.getGetMetadataDeltaMethod().getType()).isEqualTo(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING);
    assertThat(ControllerGrpc.getServiceDescriptor().getMethods()).hasSize(15);
    assertThat(NodeGrpc.getServiceDescriptor().getMethods()).hasSize(8);
  }

  @Test
  void fieldNumbersMatchTheSpec() {
    assertNumbers(CreateVolumeRequest.getDescriptor(), Map.of(
        "name", 1, "capacity_range", 2, "volume_capabilities", 3, "parameters", 4, "secrets", 5,
        "volume_content_source", 6, "accessibility_requirements", 7, "mutable_params", 8));
    assertNumbers(Volume.getDescriptor(), Map.of(
        "capacity_bytes", 1, "volume_id", 2, "volume_context", 3, "content_source", 4, "accessible_topology", 5));
    assertNumbers(NodePublishVolumeRequest.getDescriptor(), Map.of(
        "volume_id", 1, "publish_context", 2, "staging_target_path", 3, "target_path", 4, "volume_capability", 5,
        "readonly", 6, "secrets", 7, "volume_context", 8));
    assertNumbers(Snapshot.getDescriptor(), Map.of(
        "size_bytes", 1, "snapshot_id", 2, "source_volume_id", 3, "creation_time", 4, "ready_to_use", 5,
        "group_snapshot_id", 6));
    assertNumbers(ListSnapshotsRequest.getDescriptor(), Map.of(
        "max_entries", 1, "starting_token", 2, "source_volume_id", 3, "snapshot_id", 4, "secrets", 5));
    assertThat(CreateVolumeRequest.getDescriptor().findFieldByName("mutable_params").getJsonName())
        .isEqualTo("mutableParameters");
    assertThat(ControllerServiceCapability.RPC.Type.GET_SNAPSHOT.getNumber()).isEqualTo(15);
    assertThat(VolumeCapability.AccessMode.Mode.SINGLE_NODE_MULTI_WRITER.getNumber()).isEqualTo(7);
    assertThat(PluginCapability.Service.Type.SNAPSHOT_METADATA_SERVICE.getNumber()).isEqualTo(4);
    assertThat(NodeServiceCapability.RPC.Type.VOLUME_MOUNT_GROUP.getNumber()).isEqualTo(6);
  }

  @Test
  void secretsAreMarked() {
    var secret = CsiProto.csiSecret;
    for (var d : List.of(CreateVolumeRequest.getDescriptor(), DeleteVolumeRequest.getDescriptor(),
        ControllerPublishVolumeRequest.getDescriptor(), NodeStageVolumeRequest.getDescriptor(),
        CreateSnapshotRequest.getDescriptor(), GetMetadataDeltaRequest.getDescriptor())) {
      assertThat(d.findFieldByName("secrets").getOptions().getExtension(secret)).as(d.getName()).isTrue();
    }
  }

  private static void assertNumbers(Descriptor d, Map<String, Integer> expected) {
    expected.forEach((name, number) -> {
      var field = d.findFieldByName(name);
      assertThat(field).as(d.getName() + "." + name).isNotNull();
      assertThat(field.getNumber()).as(d.getName() + "." + name).isEqualTo(number);
    });
    assertThat(d.getFields()).as(d.getName() + " field count").hasSize(expected.size());
  }
}
