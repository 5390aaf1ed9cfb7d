package io.bucketdisk.controller;

import static io.bucketdisk.controller.CsiClient.GIB;
import static io.bucketdisk.controller.CsiClient.assertCode;
import static io.bucketdisk.controller.CsiClient.block;
import static io.bucketdisk.controller.CsiClient.createReq;
import static io.bucketdisk.controller.CsiClient.mount;
import static io.bucketdisk.controller.CsiClient.snapReq;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.proto.csi.CapacityRange;
import io.bucketdisk.proto.csi.ControllerExpandVolumeRequest;
import io.bucketdisk.proto.csi.ControllerGetCapabilitiesRequest;
import io.bucketdisk.proto.csi.ControllerGetVolumeRequest;
import io.bucketdisk.proto.csi.ControllerPublishVolumeRequest;
import io.bucketdisk.proto.csi.ControllerServiceCapability;
import io.bucketdisk.proto.csi.ControllerUnpublishVolumeRequest;
import io.bucketdisk.proto.csi.CreateVolumeRequest;
import io.bucketdisk.proto.csi.DeleteSnapshotRequest;
import io.bucketdisk.proto.csi.DeleteVolumeRequest;
import io.bucketdisk.proto.csi.GetCapacityRequest;
import io.bucketdisk.proto.csi.GetPluginCapabilitiesRequest;
import io.bucketdisk.proto.csi.GetPluginInfoRequest;
import io.bucketdisk.proto.csi.GetSnapshotRequest;
import io.bucketdisk.proto.csi.ListSnapshotsRequest;
import io.bucketdisk.proto.csi.ListVolumesRequest;
import io.bucketdisk.proto.csi.ProbeRequest;
import io.bucketdisk.proto.csi.Snapshot;
import io.bucketdisk.proto.csi.ValidateVolumeCapabilitiesRequest;
import io.bucketdisk.proto.csi.VolumeCapability;
import io.bucketdisk.proto.csi.VolumeCapability.AccessMode.Mode;
import io.bucketdisk.proto.csi.VolumeContentSource;
import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.testing.S3ProxyFixture;
import io.grpc.Status.Code;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The CSI rules, RPC by RPC, over the controller's real Unix socket against a real S3 server (s3proxy). The checklist
 * is what csi-sanity checks (reference csi.md §3.3–3.4), plus the bucketdisk-specific rules (parameters, fencing).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ControllerConformanceIT {

  // Started by hand, not as an extension: a class-level extension would also stop after each @Nested class.
  static S3ProxyFixture s3;
  static final Set<String> NODES = Set.of("node-1", "node-2", "node-3");
  static Path dir;
  static VolumeCatalog catalog;
  static ControllerPlugin plugin;
  static CsiServer server;
  static CsiClient csi;

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory(Path.of("/tmp"), "bdctl");
    s3 = S3ProxyFixture.start();
    catalog = VolumeCatalog.open(s3.storeUrl("conformance/"), CatalogOptions.defaults());
    plugin = new ControllerPlugin(catalog, NodeDirectory.of(NODES), "127.0.0.1:10809");
    server = plugin.serve(dir.resolve("csi.sock"), null);
    csi = new CsiClient(server.socket());
  }

  @AfterAll
  static void stop() throws Exception {
    if (csi != null) {
      csi.close();
    }
    if (server != null) {
      server.close();
    }
    if (plugin != null) {
      plugin.close();
    }
    if (catalog != null) {
      catalog.close();
    }
    if (s3 != null) {
      s3.close();
    }
    Files.deleteIfExists(dir);
  }

  static String create(String name, long size) {
    return csi.ctl().createVolume(createReq(name, size, 0).build()).getVolume().getVolumeId();
  }

  static void delete(String id) {
    csi.ctl().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
  }

  static ControllerPublishVolumeRequest publishReq(String vol, String node, VolumeCapability cap, boolean ro) {
    return ControllerPublishVolumeRequest.newBuilder().setVolumeId(vol).setNodeId(node).setVolumeCapability(cap)
        .setReadonly(ro).build();
  }

  static void unpublish(String vol, String node) {
    csi.ctl().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder().setVolumeId(vol)
        .setNodeId(node).build());
  }

  static int countVolumes() {
    return csi.ctl().listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesCount();
  }

  @Nested
  class Identity {
    @Test
    void pluginInfoNameMatchesTheSanityPattern() {
      var info = csi.identity.getPluginInfo(GetPluginInfoRequest.getDefaultInstance());
      assertThat(info.getName()).isEqualTo("csi.bucketdisk.io").matches("^[a-zA-Z][A-Za-z0-9-._]{0,61}[a-zA-Z]$");
      assertThat(info.getVendorVersion()).isEqualTo("0.1.0");
    }

    @Test
    void capabilitiesAreKnownValues() {
      var caps = csi.identity.getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance());
      assertThat(caps.getCapabilitiesList()).hasSize(2);
      assertThat(caps.getCapabilities(0).getService().getTypeValue()).isEqualTo(1);
      assertThat(caps.getCapabilities(1).getVolumeExpansion().getTypeValue()).isEqualTo(1);
    }

    @Test
    void probeChecksTheBucket() {
      assertThat(csi.identity.probe(ProbeRequest.getDefaultInstance()).getReady().getValue()).isTrue();
    }
  }

  @Nested
  class Capabilities {
    @Test
    void controllerCapabilitiesAreKnownValues() {
      var caps = csi.ctl().controllerGetCapabilities(ControllerGetCapabilitiesRequest.getDefaultInstance());
      assertThat(caps.getCapabilitiesList()).extracting(c -> c.getRpc().getTypeValue())
          .allMatch(v -> v >= 1 && v <= 15).doesNotHaveDuplicates()
          .contains(ControllerServiceCapability.RPC.Type.LIST_VOLUMES_PUBLISHED_NODES_VALUE,
              ControllerServiceCapability.RPC.Type.PUBLISH_UNPUBLISH_VOLUME_VALUE);
    }

    @Test
    void getCapacityWithEmptyRequest() {
      var r = csi.ctl().getCapacity(GetCapacityRequest.getDefaultInstance());
      assertThat(r.getAvailableCapacity()).isPositive();
      assertThat(r.getMaximumVolumeSize().getValue()).isEqualTo(64L << 40);
    }
  }

  @Nested
  class CreateVolume {
    @Test
    void requiredFields() {
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().createVolume(CreateVolumeRequest.newBuilder()
          .addVolumeCapabilities(block()).build()));
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().createVolume(CreateVolumeRequest.newBuilder()
          .setName("no-caps").build()));
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().createVolume(CreateVolumeRequest.newBuilder().setName("x")
          .addVolumeCapabilities(VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume
              .getDefaultInstance())).build()));
    }

    @Test
    void idempotentOnName() {
      var a = csi.ctl().createVolume(createReq("cv-idem", 10 * GIB, 0).build()).getVolume();
      var b = csi.ctl().createVolume(createReq("cv-idem", 10 * GIB, 0).build()).getVolume();
      assertThat(b).isEqualTo(a);
      assertThat(a.getCapacityBytes()).isEqualTo(10 * GIB);
      assertThat(a.getVolumeContextMap()).containsEntry("chunkSize", "4194304");
      delete(a.getVolumeId());
    }

    @Test
    void exactSizeThenDoubleIsAlreadyExists() {
      var a = csi.ctl().createVolume(createReq("cv-exact", 10 * GIB, 10 * GIB).build()).getVolume();
      assertThat(a.getCapacityBytes()).isEqualTo(10 * GIB);
      String msg = assertCode(Code.ALREADY_EXISTS, () -> csi.ctl().createVolume(
          createReq("cv-exact", 20 * GIB, 20 * GIB).build()));
      assertThat(msg).contains("cv-exact");
      delete(a.getVolumeId());
    }

    @Test
    void differentParametersIsAlreadyExists() {
      String id = create("cv-params", GIB);
      assertCode(Code.ALREADY_EXISTS, () -> csi.ctl().createVolume(createReq("cv-params", GIB, 0)
          .putParameters("chunkSize", "1Mi").build()));
      delete(id);
    }

    @Test
    void nameOf128Characters() {
      String name = "n".repeat(64) + "-" + "X".repeat(63);
      assertThat(name).hasSize(128);
      var v = csi.ctl().createVolume(createReq(name, GIB, 0).build()).getVolume();
      assertThat(csi.ctl().createVolume(createReq(name, GIB, 0).build()).getVolume().getVolumeId())
          .isEqualTo(v.getVolumeId());
      delete(v.getVolumeId());
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().createVolume(createReq("n".repeat(129), GIB, 0).build()));
    }

    @Test
    void sizeRules() {
      var v = csi.ctl().createVolume(createReq("cv-round", 5000, 0).build()).getVolume();
      assertThat(v.getCapacityBytes()).isEqualTo(8192);
      delete(v.getVolumeId());
      var d = csi.ctl().createVolume(createReq("cv-default", 0, 0).build()).getVolume();
      assertThat(d.getCapacityBytes()).isEqualTo(GIB);
      delete(d.getVolumeId());
      assertCode(Code.OUT_OF_RANGE, () -> csi.ctl().createVolume(createReq("cv-oor", 5000, 6000).build()));
      assertCode(Code.OUT_OF_RANGE, () -> csi.ctl().createVolume(createReq("cv-huge", 65L << 40, 0).build()));
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().createVolume(createReq("cv-neg", -1, 0).build()));
    }

    @Test
    void parametersAreValidatedByName() {
      String msg = assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().createVolume(createReq("cv-bad", GIB, 0)
          .putParameters("chunkSize", "3Mi").build()));
      assertThat(msg).contains("chunkSize");
      msg = assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().createVolume(createReq("cv-bad", GIB, 0)
          .putParameters("replicas", "3").build()));
      assertThat(msg).contains("replicas");
      var v = csi.ctl().createVolume(CreateVolumeRequest.newBuilder().setName("cv-xfs")
          .addVolumeCapabilities(mount("xfs", Mode.SINGLE_NODE_WRITER))
          .putParameters("chunkSize", "1Mi").putParameters("readAheadChunks", "4")
          .putParameters("csi.storage.k8s.io/pvc/name", "data").build()).getVolume();
      assertThat(v.getVolumeContextMap()).containsEntry("chunkSize", "1048576").containsEntry("fsType", "xfs")
          .containsEntry("readAheadChunks", "4");
      delete(v.getVolumeId());
    }

    @Test
    void unsupportedCapabilities() {
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().createVolume(CreateVolumeRequest.newBuilder()
          .setName("cv-rwx-mount").addVolumeCapabilities(mount("ext4", Mode.MULTI_NODE_MULTI_WRITER)).build()));
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().createVolume(CreateVolumeRequest.newBuilder()
          .setName("cv-btrfs").addVolumeCapabilities(mount("btrfs", Mode.SINGLE_NODE_WRITER)).build()));
      // Modes that are not served are refused, not accepted and half served (issue 11).
      for (var mode : List.of(Mode.MULTI_NODE_MULTI_WRITER, Mode.MULTI_NODE_SINGLE_WRITER)) {
        String msg = assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().createVolume(CreateVolumeRequest.newBuilder()
            .setName("cv-" + mode.getNumber()).addVolumeCapabilities(block(mode)).build()));
        assertThat(msg).contains(mode.name());
      }
      var v = csi.ctl().createVolume(CreateVolumeRequest.newBuilder().setName("cv-rox-block")
          .addVolumeCapabilities(block(Mode.MULTI_NODE_READER_ONLY)).build()).getVolume();
      delete(v.getVolumeId());
    }

    @Test
    void fromSnapshotAndClone() {
      String src = create("cv-src", GIB);
      Snapshot snap = csi.ctl().createSnapshot(snapReq("cv-src-snap", src)).getSnapshot();
      var restored = csi.ctl().createVolume(createReq("cv-restored", GIB, 0).setVolumeContentSource(
          VolumeContentSource.newBuilder().setSnapshot(VolumeContentSource.SnapshotSource.newBuilder()
              .setSnapshotId(snap.getSnapshotId()))).build()).getVolume();
      assertThat(restored.getContentSource().getSnapshot().getSnapshotId()).isEqualTo(snap.getSnapshotId());
      var clone = csi.ctl().createVolume(createReq("cv-clone", 2 * GIB, 0).setVolumeContentSource(
          VolumeContentSource.newBuilder().setVolume(VolumeContentSource.VolumeSource.newBuilder()
              .setVolumeId(src))).build()).getVolume();
      assertThat(clone.getContentSource().getVolume().getVolumeId()).isEqualTo(src);
      assertThat(clone.getCapacityBytes()).isEqualTo(2 * GIB);
      assertCode(Code.OUT_OF_RANGE, () -> csi.ctl().createVolume(createReq("cv-small-clone", GIB / 2, GIB / 2)
          .setVolumeContentSource(VolumeContentSource.newBuilder().setVolume(VolumeContentSource.VolumeSource
              .newBuilder().setVolumeId(src))).build()));
      assertCode(Code.NOT_FOUND, () -> csi.ctl().createVolume(createReq("cv-nosnap", GIB, 0).setVolumeContentSource(
          VolumeContentSource.newBuilder().setSnapshot(VolumeContentSource.SnapshotSource.newBuilder()
              .setSnapshotId("no-such-snapshot"))).build()));
      assertCode(Code.NOT_FOUND, () -> csi.ctl().createVolume(createReq("cv-novol", GIB, 0).setVolumeContentSource(
          VolumeContentSource.newBuilder().setVolume(VolumeContentSource.VolumeSource.newBuilder()
              .setVolumeId("no-such-volume"))).build()));
      delete(clone.getVolumeId());
      delete(restored.getVolumeId());
      csi.ctl().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(snap.getSnapshotId()).build());
      delete(src);
    }

    @Test
    void concurrentCreatesOfOneNameMakeOneVolume() throws Exception {
      var pool = Executors.newVirtualThreadPerTaskExecutor();
      var tasks = new ArrayList<Callable<String>>();
      for (int i = 0; i < 8; i++) {
        tasks.add(() -> {
          try {
            return create("cv-race", GIB);
          } catch (StatusRuntimeException e) {
            assertThat(e.getStatus().getCode()).isEqualTo(Code.ABORTED);
            return "aborted";
          }
        });
      }
      var ids = new HashSet<String>();
      for (var f : pool.invokeAll(tasks)) {
        ids.add(f.get());
      }
      pool.close();
      ids.remove("aborted");
      assertThat(ids).hasSizeLessThanOrEqualTo(1);
      String id = create("cv-race", GIB);
      assertThat(ids).allMatch(id::equals);
      delete(id);
    }
  }

  @Nested
  class DeleteVolume {
    @Test
    void rules() {
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().deleteVolume(DeleteVolumeRequest.getDefaultInstance()));
      delete("fake-vol-id");
      delete("not a valid id at all!");
      String id = create("dv-pub", GIB);
      csi.ctl().controllerPublishVolume(publishReq(id, "node-1", block(), false));
      String msg = assertCode(Code.FAILED_PRECONDITION, () -> delete(id));
      assertThat(msg).contains("node-1");
      unpublish(id, "node-1");
      delete(id);
      delete(id);
      assertCode(Code.NOT_FOUND, () -> csi.ctl().controllerGetVolume(ControllerGetVolumeRequest.newBuilder()
          .setVolumeId(id).build()));
    }

    @Test
    void volumeWithSnapshotCanBeDeletedAndSnapshotStaysUsable() {
      String id = create("dv-snap", GIB);
      var snap = csi.ctl().createSnapshot(snapReq("dv-snap-s", id)).getSnapshot();
      delete(id);
      assertThat(csi.ctl().getSnapshot(GetSnapshotRequest.newBuilder().setSnapshotId(snap.getSnapshotId()).build())
          .getSnapshot().getSourceVolumeId()).isEqualTo(id);
      var restored = csi.ctl().createVolume(createReq("dv-snap-restored", GIB, 0).setVolumeContentSource(
          VolumeContentSource.newBuilder().setSnapshot(VolumeContentSource.SnapshotSource.newBuilder()
              .setSnapshotId(snap.getSnapshotId()))).build()).getVolume();
      delete(restored.getVolumeId());
      csi.ctl().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(snap.getSnapshotId()).build());
    }
  }

  @Nested
  class ValidateVolumeCapabilities {
    @Test
    void rules() {
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().validateVolumeCapabilities(
          ValidateVolumeCapabilitiesRequest.newBuilder().addVolumeCapabilities(block()).build()));
      String id = create("vvc", GIB);
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().validateVolumeCapabilities(
          ValidateVolumeCapabilitiesRequest.newBuilder().setVolumeId(id).build()));
      var ok = csi.ctl().validateVolumeCapabilities(ValidateVolumeCapabilitiesRequest.newBuilder().setVolumeId(id)
          .addVolumeCapabilities(block()).addVolumeCapabilities(mount("ext4", Mode.MULTI_NODE_READER_ONLY)).build());
      assertThat(ok.hasConfirmed()).isTrue();
      assertThat(ok.getConfirmed().getVolumeCapabilitiesCount()).isEqualTo(2);
      var no = csi.ctl().validateVolumeCapabilities(ValidateVolumeCapabilitiesRequest.newBuilder().setVolumeId(id)
          .addVolumeCapabilities(mount("ext4", Mode.MULTI_NODE_MULTI_WRITER)).build());
      assertThat(no.hasConfirmed()).isFalse();
      assertThat(no.getMessage()).contains("MULTI_NODE_MULTI_WRITER");
      assertCode(Code.NOT_FOUND, () -> csi.ctl().validateVolumeCapabilities(ValidateVolumeCapabilitiesRequest
          .newBuilder().setVolumeId("no-such-volume").addVolumeCapabilities(block()).build()));
      delete(id);
    }
  }

  @Nested
  class Publish {
    @Test
    void requiredFieldsAndUnknowns() {
      String id = create("pub-req", GIB);
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().controllerPublishVolume(publishReq("", "node-1", block(),
          false)));
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().controllerPublishVolume(publishReq(id, "", block(), false)));
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().controllerPublishVolume(ControllerPublishVolumeRequest
          .newBuilder().setVolumeId(id).setNodeId("node-1").build()));
      assertCode(Code.NOT_FOUND, () -> csi.ctl().controllerPublishVolume(publishReq("no-such-volume", "node-1",
          block(), false)));
      String msg = assertCode(Code.NOT_FOUND, () -> csi.ctl().controllerPublishVolume(publishReq(id,
          "fake-node-id-xxxx", block(), false)));
      assertThat(msg).contains("fake-node-id-xxxx");
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().controllerUnpublishVolume(
          ControllerUnpublishVolumeRequest.getDefaultInstance()));
      delete(id);
    }

    @Test
    void idempotentFencedAndRecorded() {
      String id = create("pub-fence", GIB);
      for (int i = 0; i < 10; i++) {
        var ctx = csi.ctl().controllerPublishVolume(publishReq(id, "node-1", block(), false)).getPublishContextMap();
        assertThat(ctx).containsEntry("exportName", id).containsEntry("readOnly", "false")
            .containsEntry("gatewayAddress", "127.0.0.1:10809");
      }
      assertCode(Code.ALREADY_EXISTS, () -> csi.ctl().controllerPublishVolume(publishReq(id, "node-1", block(),
          true)));
      String msg = assertCode(Code.FAILED_PRECONDITION, () -> csi.ctl().controllerPublishVolume(publishReq(id,
          "node-2", block(), false)));
      assertThat(msg).contains("node-1");
      var listed = csi.ctl().listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesList().stream()
          .filter(e -> e.getVolume().getVolumeId().equals(id)).findFirst().orElseThrow();
      assertThat(listed.getStatus().getPublishedNodeIdsList()).containsExactly("node-1");
      assertThat(csi.ctl().controllerGetVolume(ControllerGetVolumeRequest.newBuilder().setVolumeId(id).build())
          .getStatus().getPublishedNodeIdsList()).containsExactly("node-1");
      // A fresh catalog (another controller process) sees the attachment too: it lives in the manifest.
      try (var other = VolumeCatalog.open(s3.storeUrl("conformance/"), CatalogOptions.defaults())) {
        assertThat(other.get(id).orElseThrow().publications()).containsOnlyKeys("node-1");
      } catch (java.io.IOException e) {
        throw new AssertionError(e);
      }
      unpublish(id, "node-1");
      unpublish(id, "node-1");
      unpublish("no-such-volume", "node-1");
      csi.ctl().controllerPublishVolume(publishReq(id, "node-2", block(), false));
      unpublish(id, "");
      assertThat(csi.ctl().controllerGetVolume(ControllerGetVolumeRequest.newBuilder().setVolumeId(id).build())
          .getStatus().getPublishedNodeIdsCount()).isZero();
      delete(id);
    }

    @Test
    void multiNodeModes() {
      String id = create("pub-multi", GIB);
      var rox = block(Mode.MULTI_NODE_READER_ONLY);
      var a = csi.ctl().controllerPublishVolume(publishReq(id, "node-1", rox, false)).getPublishContextMap();
      assertThat(a).containsEntry("readOnly", "true");
      csi.ctl().controllerPublishVolume(publishReq(id, "node-2", rox, false));
      unpublish(id, "");
      // A reader-only publish while another node writes would read an image that is changing: refused.
      csi.ctl().controllerPublishVolume(publishReq(id, "node-1", block(), false));
      String msg = assertCode(Code.FAILED_PRECONDITION, () -> csi.ctl().controllerPublishVolume(publishReq(id,
          "node-2", rox, false)));
      assertThat(msg).contains("node-1");
      unpublish(id, "");
      for (var mode : List.of(Mode.MULTI_NODE_SINGLE_WRITER, Mode.MULTI_NODE_MULTI_WRITER)) {
        assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().controllerPublishVolume(publishReq(id, "node-1",
            block(mode), false)));
      }
      assertThat(csi.ctl().controllerGetVolume(ControllerGetVolumeRequest.newBuilder().setVolumeId(id).build())
          .getStatus().getPublishedNodeIdsList()).isEmpty();
      delete(id);
    }

    @Test
    void twoControllersRacingForTheWriterCannotBothWin() throws Exception {
      String id = create("pub-race", GIB);
      try (var otherCatalog = VolumeCatalog.open(s3.storeUrl("conformance/"), CatalogOptions.defaults());
          var other = new ControllerPlugin(otherCatalog, NodeDirectory.of(NODES), null);
          var otherServer = other.serve(dir.resolve("other.sock"), null);
          var otherCsi = new CsiClient(otherServer.socket());
          var pool = Executors.newVirtualThreadPerTaskExecutor()) {
        var single = block(Mode.SINGLE_NODE_WRITER);
        var a = pool.submit(() -> csi.ctl().controllerPublishVolume(publishReq(id, "node-1", single, false)));
        var b = pool.submit(() -> otherCsi.ctl().controllerPublishVolume(publishReq(id, "node-2", single, false)));
        int won = 0;
        for (var f : List.of(a, b)) {
          try {
            f.get();
            won++;
          } catch (java.util.concurrent.ExecutionException e) {
            assertThat(((StatusRuntimeException) e.getCause()).getStatus().getCode())
                .isIn(Code.FAILED_PRECONDITION, Code.ABORTED);
          }
        }
        assertThat(won).isEqualTo(1);
        assertThat(csi.ctl().controllerGetVolume(ControllerGetVolumeRequest.newBuilder().setVolumeId(id).build())
            .getStatus().getPublishedNodeIdsCount()).isEqualTo(1);
      }
      unpublish(id, "");
      delete(id);
    }
  }

  @Nested
  class ListVolumes {
    @Test
    void tokensAndCounts() {
      assertCode(Code.ABORTED, () -> csi.ctl().listVolumes(ListVolumesRequest.newBuilder()
          .setStartingToken("invalid-token").build()));
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().listVolumes(ListVolumesRequest.newBuilder()
          .setMaxEntries(-1).build()));
      int before = countVolumes();
      var ids = new ArrayList<String>();
      for (int i = 0; i < 5; i++) {
        ids.add(create("lv-" + i, GIB));
      }
      assertThat(countVolumes()).isEqualTo(before + 5);
      var seen = new HashSet<String>();
      String token = "";
      for (int pages = 0; pages < 100; pages++) {
        var page = csi.ctl().listVolumes(ListVolumesRequest.newBuilder().setMaxEntries(2).setStartingToken(token)
            .build());
        assertThat(page.getEntriesCount()).isLessThanOrEqualTo(2);
        page.getEntriesList().forEach(e -> assertThat(seen.add(e.getVolume().getVolumeId())).isTrue());
        token = page.getNextToken();
        if (token.isEmpty()) {
          break;
        }
      }
      assertThat(token).isEmpty();
      assertThat(seen).containsAll(ids).hasSize(before + 5);
      ids.forEach(ConformanceSupport::deleteQuietly);
      assertThat(countVolumes()).isEqualTo(before);
    }

    @Test
    void ephemeralInlineVolumesAreNotListed() throws Exception {
      int before = countVolumes();
      // as the gateway's CreateEphemeralVolume makes them for a node's inline volume
      catalog.create(new io.bucketdisk.store.VolumeSpec("csi-eph-listed", GIB, 4 << 20,
          java.util.Map.of(io.bucketdisk.store.VolumeIds.EPHEMERAL_KEY, "true")));
      String id = create("lv-persistent", GIB);
      try {
        assertThat(csi.ctl().listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesList())
            .extracting(e -> e.getVolume().getVolumeId()).contains(id).doesNotContain("csi-eph-listed");
        assertThat(countVolumes()).isEqualTo(before + 1);
      } finally {
        catalog.delete("csi-eph-listed");
        delete(id);
      }
    }
  }

  @Nested
  class Snapshots {
    @Test
    void createRules() {
      String vol = create("sn-vol", GIB);
      String other = create("sn-other", GIB);
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().createSnapshot(snapReq("", vol)));
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().createSnapshot(snapReq("sn-x", "")));
      assertCode(Code.NOT_FOUND, () -> csi.ctl().createSnapshot(snapReq("sn-x", "no-such-volume")));
      Snapshot s = csi.ctl().createSnapshot(snapReq("sn-1", vol)).getSnapshot();
      assertThat(s.getReadyToUse()).isTrue();
      assertThat(s.getSizeBytes()).isEqualTo(GIB);
      assertThat(s.getSourceVolumeId()).isEqualTo(vol);
      assertThat(s.getCreationTime().getSeconds()).isPositive();
      assertThat(csi.ctl().createSnapshot(snapReq("sn-1", vol)).getSnapshot()).isEqualTo(s);
      assertCode(Code.ALREADY_EXISTS, () -> csi.ctl().createSnapshot(snapReq("sn-1", other)));
      Snapshot longName = csi.ctl().createSnapshot(snapReq("S".repeat(128), vol)).getSnapshot();
      assertThat(csi.ctl().getSnapshot(GetSnapshotRequest.newBuilder().setSnapshotId(longName.getSnapshotId())
          .build()).getSnapshot()).isEqualTo(longName);
      assertCode(Code.NOT_FOUND, () -> csi.ctl().getSnapshot(GetSnapshotRequest.newBuilder()
          .setSnapshotId("no-such-snapshot").build()));
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().getSnapshot(GetSnapshotRequest.getDefaultInstance()));
      for (var id : List.of(s.getSnapshotId(), longName.getSnapshotId())) {
        csi.ctl().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(id).build());
      }
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().deleteSnapshot(DeleteSnapshotRequest.getDefaultInstance()));
      csi.ctl().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId("no-such-snapshot").build());
      delete(vol);
      delete(other);
    }

    @Test
    void listFiltersAndPages() {
      String vol = create("ls-vol", GIB);
      var ids = new ArrayList<String>();
      for (int i = 0; i < 5; i++) {
        ids.add(csi.ctl().createSnapshot(snapReq("ls-snap-" + i, vol)).getSnapshot().getSnapshotId());
      }
      var all = csi.ctl().listSnapshots(ListSnapshotsRequest.getDefaultInstance());
      assertThat(all.getEntriesList()).extracting(e -> e.getSnapshot().getSnapshotId()).containsAll(ids);
      var one = csi.ctl().listSnapshots(ListSnapshotsRequest.newBuilder().setSnapshotId(ids.get(2)).build());
      assertThat(one.getEntriesList()).extracting(e -> e.getSnapshot().getSnapshotId()).containsExactly(ids.get(2));
      assertThat(csi.ctl().listSnapshots(ListSnapshotsRequest.newBuilder().setSnapshotId("no-such-snap").build())
          .getEntriesCount()).isZero();
      assertThat(csi.ctl().listSnapshots(ListSnapshotsRequest.newBuilder().setSourceVolumeId(vol).build())
          .getEntriesCount()).isEqualTo(5);
      assertThat(csi.ctl().listSnapshots(ListSnapshotsRequest.newBuilder().setSourceVolumeId("no-such-volume")
          .build()).getEntriesCount()).isZero();
      var first = csi.ctl().listSnapshots(ListSnapshotsRequest.newBuilder().setSourceVolumeId(vol).setMaxEntries(2)
          .build());
      assertThat(first.getEntriesCount()).isEqualTo(2);
      assertThat(first.getNextToken()).isNotEmpty();
      var rest = csi.ctl().listSnapshots(ListSnapshotsRequest.newBuilder().setSourceVolumeId(vol)
          .setStartingToken(first.getNextToken()).build());
      assertThat(rest.getEntriesCount()).isEqualTo(3);
      assertThat(rest.getNextToken()).isEmpty();
      assertCode(Code.ABORTED, () -> csi.ctl().listSnapshots(ListSnapshotsRequest.newBuilder()
          .setStartingToken("invalid-token").build()));
      for (String id : ids) {
        csi.ctl().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(id).build());
      }
      delete(vol);
    }
  }

  @Nested
  class Expand {
    @Test
    void rules() {
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().controllerExpandVolume(ControllerExpandVolumeRequest
          .newBuilder().setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(GIB)).build()));
      String id = create("ex-block", 10 * GIB);
      assertCode(Code.INVALID_ARGUMENT, () -> csi.ctl().controllerExpandVolume(ControllerExpandVolumeRequest
          .newBuilder().setVolumeId(id).build()));
      assertCode(Code.NOT_FOUND, () -> csi.ctl().controllerExpandVolume(ControllerExpandVolumeRequest.newBuilder()
          .setVolumeId("no-such-volume").setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(GIB)).build()));
      csi.ctl().controllerPublishVolume(publishReq(id, "node-1", block(), false));
      var r = csi.ctl().controllerExpandVolume(ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
          .setVolumeCapability(block()).setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(11 * GIB))
          .build());
      assertThat(r.getCapacityBytes()).isEqualTo(11 * GIB);
      assertThat(r.getNodeExpansionRequired()).isFalse();
      var same = csi.ctl().controllerExpandVolume(ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
          .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(5 * GIB)).build());
      assertThat(same.getCapacityBytes()).isEqualTo(11 * GIB);
      unpublish(id, "node-1");
      delete(id);
      var m = csi.ctl().createVolume(CreateVolumeRequest.newBuilder().setName("ex-mount")
          .addVolumeCapabilities(mount("ext4", Mode.SINGLE_NODE_WRITER)).build()).getVolume();
      var rm = csi.ctl().controllerExpandVolume(ControllerExpandVolumeRequest.newBuilder()
          .setVolumeId(m.getVolumeId()).setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(2 * GIB))
          .build());
      assertThat(rm.getNodeExpansionRequired()).isTrue();
      delete(m.getVolumeId());
    }
  }

  @Nested
  class OpenOnAGateway {
    /** A gateway stand-in: holds the volume's writable handle (and lease) and serves the real control API. */
    final class FakeGateway extends io.bucketdisk.proto.gateway.GatewayControlGrpc.GatewayControlImplBase {
      final java.util.concurrent.atomic.AtomicInteger snapshots = new java.util.concurrent.atomic.AtomicInteger();
      final java.util.concurrent.atomic.AtomicInteger refreshes = new java.util.concurrent.atomic.AtomicInteger();
      final io.bucketdisk.store.ChunkStore handle;

      FakeGateway(io.bucketdisk.store.ChunkStore handle) {
        this.handle = handle;
      }

      @Override
      public void snapshotVolume(io.bucketdisk.proto.gateway.SnapshotVolumeRequest req,
          io.grpc.stub.StreamObserver<io.bucketdisk.proto.gateway.SnapshotVolumeResponse> out) {
        try {
          handle.snapshot(req.getSnapshotId());
          snapshots.incrementAndGet();
          out.onNext(io.bucketdisk.proto.gateway.SnapshotVolumeResponse.newBuilder().setWasOpen(true).build());
          out.onCompleted();
        } catch (java.io.IOException e) {
          out.onError(io.grpc.Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
        }
      }

      @Override
      public void refreshVolume(io.bucketdisk.proto.gateway.RefreshVolumeRequest req,
          io.grpc.stub.StreamObserver<io.bucketdisk.proto.gateway.RefreshVolumeResponse> out) {
        try {
          handle.refresh();
          refreshes.incrementAndGet();
          out.onNext(io.bucketdisk.proto.gateway.RefreshVolumeResponse.newBuilder().setWasOpen(true)
              .setSizeBytes(handle.size()).build());
          out.onCompleted();
        } catch (java.io.IOException e) {
          out.onError(io.grpc.Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
        }
      }
    }

    @Test
    void snapshotCloneAndExpandGoThroughTheLeaseHolder() throws Exception {
      String id = create("gw-vol", GIB);
      Path control = dir.resolve("control.sock");
      try (var handle = catalog.open(id, new io.bucketdisk.store.LeaseOwner("gw-test", "unix://" + control), false)) {
        var gateway = new FakeGateway(handle);
        try (var gw = CsiServer.start(control, List.of(gateway), null)) {
          var buf = java.nio.ByteBuffer.allocate(handle.chunkSize());
          while (buf.hasRemaining()) {
            buf.put((byte) 7);
          }
          buf.flip();
          handle.write(0, buf);

          Snapshot s = csi.ctl().createSnapshot(snapReq("gw-snap", id)).getSnapshot();
          assertThat(gateway.snapshots.get()).as("snapshot cut by the lease holder").isEqualTo(1);
          assertThat(s.getReadyToUse()).isTrue();
          assertThat(csi.ctl().createSnapshot(snapReq("gw-snap", id)).getSnapshot()).isEqualTo(s);
          assertThat(gateway.snapshots.get()).as("a repeat is answered from the store").isEqualTo(1);

          var clone = csi.ctl().createVolume(createReq("gw-clone", GIB, 0).setVolumeContentSource(
              VolumeContentSource.newBuilder().setVolume(VolumeContentSource.VolumeSource.newBuilder()
                  .setVolumeId(id))).build()).getVolume();
          assertThat(gateway.snapshots.get()).as("clone source snapshotted by the lease holder").isEqualTo(2);
          try (var read = catalog.open(clone.getVolumeId(), new io.bucketdisk.store.LeaseOwner("reader", "none"),
              true)) {
            var dst = java.nio.ByteBuffer.allocate(read.chunkSize());
            assertThat(read.read(0, dst)).as("the clone sees the gateway's write").isTrue();
            assertThat(dst.get(0)).isEqualTo((byte) 7);
          }

          var grown = csi.ctl().controllerExpandVolume(ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
              .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(2 * GIB)).build());
          assertThat(grown.getCapacityBytes()).isEqualTo(2 * GIB);
          assertThat(gateway.refreshes.get()).isEqualTo(1);
          assertThat(handle.size()).isEqualTo(2 * GIB);

          String msg = assertCode(Code.FAILED_PRECONDITION, () -> delete(id));
          assertThat(msg).contains("gw-test");
          delete(clone.getVolumeId());
          csi.ctl().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(s.getSnapshotId()).build());
        }
      }
      delete(id);
      assertThat(countVolumesNamed(id)).isZero();
    }

    @Test
    void snapshotAndExpandReachALeaseHolderOverTcp() throws Exception {
      String id = create("gw-tcp-vol", GIB);
      var registry = new io.grpc.util.MutableHandlerRegistry();
      io.grpc.Server tcp = io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder
          .forAddress(new java.net.InetSocketAddress("127.0.0.1", 0)).fallbackHandlerRegistry(registry).build().start();
      try {
        String address = "tcp://127.0.0.1:" + tcp.getPort();
        try (var handle = catalog.open(id, new io.bucketdisk.store.LeaseOwner("gw-tcp", address), false)) {
          var gateway = new FakeGateway(handle);
          registry.addService(gateway);
          Snapshot s = csi.ctl().createSnapshot(snapReq("gw-tcp-snap", id)).getSnapshot();
          assertThat(gateway.snapshots.get()).as("snapshot cut by the lease holder at " + address).isEqualTo(1);
          assertThat(s.getReadyToUse()).isTrue();
          csi.ctl().controllerExpandVolume(ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
              .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(2 * GIB)).build());
          assertThat(gateway.refreshes.get()).as("refresh over TCP").isEqualTo(1);
          csi.ctl().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(s.getSnapshotId()).build());
        }
      } finally {
        tcp.shutdownNow().awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
      }
      delete(id);
    }

    private long countVolumesNamed(String id) {
      return csi.ctl().listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesList().stream()
          .filter(e -> e.getVolume().getVolumeId().equals(id)).count();
    }
  }

  @Nested
  class Server {
    @Test
    void secondServerCannotTakeOverALiveSocket() {
      var e = org.assertj.core.api.Assertions.catchThrowable(() -> plugin.serve(server.socket(), null));
      assertThat(e).isInstanceOf(java.io.IOException.class).hasMessageContaining("already listening");
      assertThat(csi.identity.probe(ProbeRequest.getDefaultInstance()).getReady().getValue()).isTrue();
    }

    @Test
    void staleSocketIsReplacedAndBadEndpointsRefused() throws Exception {
      Path stale = dir.resolve("stale.sock");
      try (var first = plugin.serve(stale, null)) {
        // closing removes the file; recreate a dead socket file to simulate a crash
      }
      try (var ch = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
        ch.bind(java.net.UnixDomainSocketAddress.of(stale));
      }
      assertThat(stale).exists();
      try (var second = plugin.serve(stale, null); var c = new CsiClient(stale)) {
        assertThat(c.identity.getPluginInfo(GetPluginInfoRequest.getDefaultInstance()).getName())
            .isEqualTo("csi.bucketdisk.io");
      }
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> CsiServer.parseEndpoint("tcp://1.2.3.4:5"))
          .hasMessageContaining("unix:///");
      assertThat(CsiServer.parseEndpoint("unix:///csi/csi.sock")).isEqualTo(Path.of("/csi/csi.sock"));
    }
  }

  /** Helpers usable from lambdas. */
  static final class ConformanceSupport {
    static void deleteQuietly(String id) {
      delete(id);
    }
  }
}
