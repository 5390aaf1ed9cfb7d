package io.bucketdisk.e2e;

import io.bucketdisk.testing.Requirement;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.node.vm.GuestJava;
import io.bucketdisk.node.vm.GuestNodeMain;
import io.bucketdisk.node.vm.GuestVm;
import io.bucketdisk.proto.csi.CapacityRange;
import io.bucketdisk.proto.csi.ControllerExpandVolumeRequest;
import io.bucketdisk.proto.csi.ControllerGetVolumeRequest;
import io.bucketdisk.proto.csi.ControllerGrpc;
import io.bucketdisk.proto.csi.ControllerPublishVolumeRequest;
import io.bucketdisk.proto.csi.ControllerUnpublishVolumeRequest;
import io.bucketdisk.proto.csi.CreateSnapshotRequest;
import io.bucketdisk.proto.csi.CreateVolumeRequest;
import io.bucketdisk.proto.csi.DeleteSnapshotRequest;
import io.bucketdisk.proto.csi.DeleteVolumeRequest;
import io.bucketdisk.proto.csi.IdentityGrpc;
import io.bucketdisk.proto.csi.ListVolumesRequest;
import io.bucketdisk.proto.csi.NodeExpandVolumeRequest;
import io.bucketdisk.proto.csi.NodeGetVolumeStatsRequest;
import io.bucketdisk.proto.csi.NodeGrpc;
import io.bucketdisk.proto.csi.NodePublishVolumeRequest;
import io.bucketdisk.proto.csi.NodeStageVolumeRequest;
import io.bucketdisk.proto.csi.NodeUnpublishVolumeRequest;
import io.bucketdisk.proto.csi.NodeUnstageVolumeRequest;
import io.bucketdisk.proto.csi.ProbeRequest;
import io.bucketdisk.proto.csi.Volume;
import io.bucketdisk.proto.csi.VolumeCapability;
import io.bucketdisk.proto.csi.VolumeCapability.AccessMode.Mode;
import io.bucketdisk.proto.csi.VolumeContentSource;
import io.bucketdisk.proto.csi.VolumeUsage;
import io.bucketdisk.store.VolumeIds;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The whole system without Kubernetes: the CSI controller and the gateway on the host against one s3proxy bucket,
 * the node plugin inside a QEMU guest with a real kernel, driven over their real CSI sockets in the order kubelet,
 * the external-provisioner, -attacher, -snapshotter and -resizer would call them. The node plugin's Unix socket is
 * relayed to a forwarded TCP port by socat in the guest; the guest reaches the gateway's NBD port as 10.0.2.2,
 * named by the controller in publish_context. One boot and one node-plugin JVM serve every scenario.
 */
@Tag("vm")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class WholeSystemVmIT {
  static final String NODE_ID = "e2e-node";
  static final int CSI_PORT = 7001;
  static final String NODE_SOCKET = "/tmp/csi/csi.sock";
  static final long MIB = 1 << 20;

  HostServices host;
  GuestVm vm;
  ManagedChannel nodeChannel;
  ManagedChannel controllerChannel;
  String plugin;
  long started;

  @BeforeAll
  void boot() throws Exception {
    var reason = GuestVm.unavailableReason();
    Requirement.require(reason.map(r -> "whole-system VM test: " + r));
    started = System.nanoTime();
    host = HostServices.start(NODE_ID, GuestVm.HOST_FROM_GUEST);
    controllerChannel = Grpc.newChannelBuilder("unix://" + host.csi.socket(), InsecureChannelCredentials.create()).build();
    assertThat(IdentityGrpc.newBlockingStub(controllerChannel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .probe(ProbeRequest.getDefaultInstance()).getReady().getValue()).isTrue();

    Path work = host.dir.resolve("vm");
    vm = GuestVm.boot(work, 2048, List.of(CSI_PORT), Duration.ofSeconds(120));
    sh("mkdir -p /tmp/csi /tmp/k/stage/fs /tmp/k/stage/clone /tmp/k/stage/blk /tmp/k/pods/fs /tmp/k/pods/clone"
        + " /tmp/k/pods/blk /tmp/k/pods/eph", 10);
    plugin = guestJava(GuestNodeMain.class, NODE_SOCKET, NODE_ID,
        GuestVm.HOST_FROM_GUEST + ":" + host.nbdPort, "4", "/tmp/node-state", "30", "60",
        "tcp://" + GuestVm.HOST_FROM_GUEST + ":" + host.controlPort);
    sh("setsid " + plugin + " </dev/null >/tmp/node.log 2>&1 & echo $! > /tmp/node.pid", 10);
    sh("setsid socat TCP-LISTEN:" + CSI_PORT + ",fork,reuseaddr UNIX-CONNECT:" + NODE_SOCKET
        + " </dev/null >/tmp/socat.log 2>&1 &", 10);
    nodeChannel = Grpc.newChannelBuilderForAddress("127.0.0.1", vm.hostPort(CSI_PORT), InsecureChannelCredentials.create())
        .build();
    awaitNodeProbe();
    System.out.printf("WholeSystemVmIT: host services, VM boot and node plugin ready in %.1f s%n", seconds(started));
  }

  private void awaitNodeProbe() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    while (true) {
      try {
        var r = IdentityGrpc.newBlockingStub(nodeChannel).withDeadlineAfter(5, TimeUnit.SECONDS)
            .probe(ProbeRequest.getDefaultInstance());
        assertThat(r.getReady().getValue()).isTrue();
        return;
      } catch (StatusRuntimeException e) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("node plugin did not answer Probe: " + e.getStatus() + "\n" + guestLog());
        }
        Thread.sleep(500);
      }
    }
  }

  @AfterAll
  void shutdown() throws Exception {
    for (var ch : new ManagedChannel[] {nodeChannel, controllerChannel}) {
      if (ch != null) {
        ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
    if (vm != null) {
      vm.close();
    }
    if (host != null) {
      host.close();
    }
    if (started != 0) {
      System.out.printf("WholeSystemVmIT: whole run took %.1f s%n", seconds(started));
    }
  }

  // ---- the flows ---------------------------------------------------------------------------------------------

  @Test
  @Order(1)
  void mountVolumeSnapshotCloneExpandAndDeleteLeaveNothingInTheBucket() throws Exception {
    long t0 = System.nanoTime();
    var cap = mount("ext4");
    Volume vol = ctl().createVolume(CreateVolumeRequest.newBuilder().setName("pvc-e2e-fs").addVolumeCapabilities(cap)
        .setCapacityRange(range(256 * MIB)).putParameters("fsType", "ext4").build()).getVolume();
    assertThat(vol.getCapacityBytes()).isEqualTo(256 * MIB);
    String id = vol.getVolumeId();
    var fs = new Attachment(vol, cap, "/tmp/k/stage/fs", "/tmp/k/pods/fs/mount");
    attach(fs);
    assertThat(sh("grep ' /tmp/k/pods/fs/mount ' /proc/self/mounts | cut -d' ' -f1,3", 10).output().strip())
        .matches("/dev/nbd\\d+ ext4");
    sh("cd /tmp/k/pods/fs/mount && for i in 1 2 3; do dd if=/dev/urandom of=f$i bs=1M count=5 2>/dev/null; done"
        + " && mkdir d && echo hello > d/x && sha256sum f1 f2 f3 d/x > /tmp/sums.fs && sync", 180);

    // The external-snapshotter's moment: the application is quiesced (fsfreeze), the controller asks the gateway
    // holding the volume to flush and record the snapshot.
    var snap = freezeWhile("/tmp/k/pods/fs/mount", () -> ctl().createSnapshot(CreateSnapshotRequest.newBuilder()
        .setName("snap-e2e-fs").setSourceVolumeId(id).build()).getSnapshot());
    assertThat(snap.getReadyToUse()).isTrue();
    assertThat(snap.getSourceVolumeId()).isEqualTo(id);
    // Written after the snapshot: must not show in the clone.
    sh("cd /tmp/k/pods/fs/mount && echo after-snapshot >> f1 && rm f2 && sync", 60);

    Volume clone = ctl().createVolume(CreateVolumeRequest.newBuilder().setName("pvc-e2e-clone").addVolumeCapabilities(cap)
        .setCapacityRange(range(256 * MIB)).putParameters("fsType", "ext4")
        .setVolumeContentSource(VolumeContentSource.newBuilder().setSnapshot(
            VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId(snap.getSnapshotId()))).build()).getVolume();
    assertThat(clone.getVolumeId()).isNotEqualTo(id);
    assertThat(clone.getContentSource().getSnapshot().getSnapshotId()).isEqualTo(snap.getSnapshotId());
    var cl = new Attachment(clone, cap, "/tmp/k/stage/clone", "/tmp/k/pods/clone/mount");
    attach(cl);
    assertThat(sh("cd /tmp/k/pods/clone/mount && sha256sum -c /tmp/sums.fs", 120).output())
        .contains("f1: OK", "f2: OK", "f3: OK", "d/x: OK");
    assertThat(sh("cd /tmp/k/pods/fs/mount && sha256sum -c /tmp/sums.fs 2>&1 || true", 60).output())
        .contains("f1: FAILED", "f3: OK");
    System.out.printf("WholeSystemVmIT: create, attach, write, snapshot, clone, verify took %.1f s%n", seconds(t0));

    // Online expansion: the external-resizer calls the controller, kubelet then the node with the publish path.
    long t1 = System.nanoTime();
    long before = dfBytes("/tmp/k/pods/fs/mount");
    var expanded = ctl().controllerExpandVolume(ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
        .setCapacityRange(range(512 * MIB)).setVolumeCapability(cap).build());
    assertThat(expanded.getCapacityBytes()).isEqualTo(512 * MIB);
    assertThat(expanded.getNodeExpansionRequired()).isTrue();
    var nodeExpanded = node().nodeExpandVolume(NodeExpandVolumeRequest.newBuilder().setVolumeId(id)
        .setVolumePath(fs.target()).setStagingTargetPath(fs.staging()).setCapacityRange(range(512 * MIB))
        .setVolumeCapability(cap).build());
    assertThat(nodeExpanded.getCapacityBytes()).isEqualTo(512 * MIB);
    long after = dfBytes("/tmp/k/pods/fs/mount");
    System.out.printf("WholeSystemVmIT: df size %d -> %d bytes; expansion took %.1f s%n", before, after, seconds(t1));
    assertThat(after).isGreaterThan(before + 200 * MIB);
    sh("cd /tmp/k/pods/fs/mount && sha256sum -c /tmp/sums.fs 2>/dev/null | grep -q 'f3: OK'"
        + " && dd if=/dev/urandom of=big bs=1M count=8 2>/dev/null && sync", 120);

    // What the CO sees meanwhile: the controller knows where it is published, kubelet's stats see the grown
    // filesystem, and the provisioner cannot delete a volume still in use.
    assertThat(ctl().controllerGetVolume(ControllerGetVolumeRequest.newBuilder().setVolumeId(id).build())
        .getStatus().getPublishedNodeIdsList()).containsExactly(NODE_ID);
    var usage = node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id)
        .setVolumePath(fs.target()).setStagingTargetPath(fs.staging()).build()).getUsageList().stream()
        .filter(u -> u.getUnit() == VolumeUsage.Unit.BYTES).findFirst().orElseThrow();
    assertThat(usage.getTotal()).isEqualTo(after);
    assertThat(usage.getUsed()).isGreaterThanOrEqualTo(18 * MIB);
    assertThatThrownBy(() -> ctl().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION));

    detach(cl);
    detach(fs);
    // Everything the node wrote reached the bucket before its device went away.
    assertThat(host.bucketKeys()).anyMatch(k -> k.startsWith("volumes/" + id + "/chunks/"));

    deleteVolume(clone.getVolumeId());
    deleteVolume(id);
    ctl().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(snap.getSnapshotId()).build());
    assertBucketHoldsNothingOf(id, clone.getVolumeId(), snap.getSnapshotId());
    System.out.printf("WholeSystemVmIT: mount flow took %.1f s%n", seconds(t0));
  }

  @Test
  @Order(2)
  void rawBlockVolumeKeepsAPatternWrittenThroughThePublishedDevice() throws Exception {
    long t0 = System.nanoTime();
    var cap = VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(Mode.SINGLE_NODE_WRITER)).build();
    Volume vol = ctl().createVolume(CreateVolumeRequest.newBuilder().setName("pvc-e2e-blk").addVolumeCapabilities(cap)
        .setCapacityRange(range(64 * MIB)).build()).getVolume();
    String id = vol.getVolumeId();
    var blk = new Attachment(vol, cap, "/tmp/k/stage/blk", "/tmp/k/pods/blk/dev");
    attach(blk);
    assertThat(sh("test -b /tmp/k/pods/blk/dev && blockdev --getsize64 /tmp/k/pods/blk/dev", 10).output().strip())
        .isEqualTo(Long.toString(64 * MIB));
    sh("dd if=/dev/urandom of=/tmp/pattern bs=1M count=9 2>/dev/null"
        + " && dd if=/tmp/pattern of=/tmp/k/pods/blk/dev bs=1M seek=20 oflag=direct conv=fsync 2>/dev/null"
        + " && echo 3 > /proc/sys/vm/drop_caches"
        + " && dd if=/tmp/k/pods/blk/dev bs=1M skip=20 count=9 iflag=direct 2>/dev/null | cmp - /tmp/pattern", 120);
    // Detach and attach again: the pattern now comes back from the gateway and the bucket, not the guest.
    detach(blk);
    // 9 MiB at 20 MiB spans chunks 5, 6 and 7 of 4 MiB: 5 and 6 are written whole and stored by a chunk PUT each;
    // chunk 7's first MiB is in a log segment, which the close leaves for the next open
    var keys = host.bucketKeys();
    assertThat(keys.stream().filter(k -> k.startsWith("volumes/" + id + "/chunks/")).count()).isGreaterThanOrEqualTo(2);
    assertThat(keys).anyMatch(k -> k.startsWith("volumes/" + id + "/chunks/0000000000000007")
        || k.startsWith("volumes/" + id + "/log/"));
    attach(blk);
    sh("dd if=/tmp/k/pods/blk/dev bs=1M skip=20 count=9 iflag=direct 2>/dev/null | cmp - /tmp/pattern"
        + " && dd if=/tmp/k/pods/blk/dev bs=1M count=20 iflag=direct 2>/dev/null | cmp - /dev/zero 2>&1 | grep -q EOF", 120);
    detach(blk);
    deleteVolume(id);
    assertBucketHoldsNothingOf(id);
    System.out.printf("WholeSystemVmIT: raw block flow took %.1f s%n", seconds(t0));
  }

  @Test
  @Order(3)
  void ephemeralInlineVolumeIsCreatedOnPublishAndLeavesNothingAfterUnpublish() throws Exception {
    long t0 = System.nanoTime();
    String csiId = "csi-" + "5e".repeat(32); // kubelet's id for a pod's inline volume: too long for a store id
    String storeId = VolumeIds.forName(csiId);
    String target = "/tmp/k/pods/eph/mount";
    var publish = NodePublishVolumeRequest.newBuilder().setVolumeId(csiId).setTargetPath(target)
        .setVolumeCapability(mount("ext4")).putVolumeContext("csi.storage.k8s.io/ephemeral", "true")
        .putVolumeContext("csi.storage.k8s.io/pod.name", "eph-pod").putVolumeContext("size", "64Mi").build();

    // Refused before anything is created: a bad size, block access.
    assertThatThrownBy(() -> node().nodePublishVolume(publish.toBuilder().putVolumeContext("size", "lots").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
          assertThat(e.getStatus().getDescription()).contains("size", "lots");
        });
    assertThatThrownBy(() -> node().nodePublishVolume(publish.toBuilder().setVolumeCapability(
        publish.getVolumeCapability().toBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    assertThat(host.catalog.get(storeId)).isEmpty();

    node().nodePublishVolume(publish);
    assertThat(sh("grep ' " + target + " ' /proc/self/mounts | cut -d' ' -f1,3", 10).output().strip())
        .matches("/dev/nbd\\d+ ext4");
    assertThat(sh("blockdev --getsize64 $(findmnt -n -o SOURCE " + target + ")", 10).output().strip())
        .isEqualTo(Long.toString(64 * MIB));
    var manifest = host.catalog.get(storeId).orElseThrow();
    assertThat(manifest.parameters()).containsEntry(VolumeIds.EPHEMERAL_KEY, "true")
        .containsEntry(VolumeIds.NAME_KEY, csiId).containsEntry("csi.storage.k8s.io/pod.name", "eph-pod");
    assertThat(ctl().listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesList())
        .as("the CO's ListVolumes does not show the node's inline volume")
        .noneMatch(e -> e.getVolume().getVolumeId().equals(storeId));

    sh("cd " + target + " && dd if=/dev/urandom of=data bs=1M count=6 2>/dev/null && echo inline > note"
        + " && sha256sum data note > /tmp/sums.eph && sync && echo 3 > /proc/sys/vm/drop_caches"
        + " && sha256sum -c /tmp/sums.eph", 120);
    assertThat(host.bucketKeys()).as("synced data reached the bucket (chunk objects or write-log segments)")
        .anyMatch(k -> k.startsWith("volumes/" + storeId + "/chunks/") || k.startsWith("volumes/" + storeId + "/log/"));

    // kubelet retries a publish whose reply it lost: same answer, no second device or mount.
    node().nodePublishVolume(publish);
    assertThat(sh("grep -c ' " + target + " ' /proc/self/mounts", 10).output().strip()).isEqualTo("1");

    // The node plugin dies and comes back: it finds the volume in its state, hands its device fresh connections at
    // start-up like a staged one, answers a retried publish from its record and can still unpublish it.
    sh("kill -9 $(cat /tmp/node.pid); sleep 1; ! kill -0 $(cat /tmp/node.pid) 2>/dev/null", 20);
    sh("setsid " + plugin + " </dev/null >>/tmp/node.log 2>&1 & echo $! > /tmp/node.pid", 10);
    awaitNodeProbe();
    String reattached = storeId + ": /dev/nbd\\d+ handed \\d fresh connection\\(s\\) after start-up check";
    for (int i = 0; i < 60 && !java.util.regex.Pattern.compile(reattached).matcher(guestLog()).find(); i++) {
      Thread.sleep(500);
    }
    assertThat(guestLog()).containsPattern(reattached);
    node().nodePublishVolume(publish);
    assertThat(sh("grep -c ' " + target + " ' /proc/self/mounts", 10).output().strip()).isEqualTo("1");
    sh("cd " + target + " && sha256sum -c /tmp/sums.eph && echo more > more && sync", 60);

    node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(csiId).setTargetPath(target).build());
    assertThat(sh("test -e " + target + " && echo present || echo removed", 10).output()).contains("removed");
    assertThat(sh("grep -c ' " + target + " ' /proc/self/mounts || true", 10).output().strip()).isEqualTo("0");
    assertThat(host.catalog.get(storeId)).isEmpty();
    assertBucketHoldsNothingOf(storeId);
    // A retried unpublish is OK too.
    node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(csiId).setTargetPath(target).build());
    System.out.printf("WholeSystemVmIT: ephemeral inline volume flow took %.1f s%n", seconds(t0));
  }

  // ---- what the sidecars and kubelet do ----------------------------------------------------------------------

  /** A volume on its way to a pod: the CO's view (capability, staging and target paths, publish_context). */
  static final class Attachment {
    final Volume volume;
    final VolumeCapability cap;
    final String staging;
    final String target;
    Map<String, String> publishContext = Map.of();

    Attachment(Volume volume, VolumeCapability cap, String staging, String target) {
      this.volume = volume;
      this.cap = cap;
      this.staging = staging;
      this.target = target;
    }

    String id() {
      return volume.getVolumeId();
    }

    String staging() {
      return staging;
    }

    String target() {
      return target;
    }
  }

  /** ControllerPublish (external-attacher), then NodeStage and NodePublish (kubelet) with its publish_context. */
  private void attach(Attachment a) {
    a.publishContext = ctl().controllerPublishVolume(ControllerPublishVolumeRequest.newBuilder().setVolumeId(a.id())
        .setNodeId(NODE_ID).setVolumeCapability(a.cap).putAllVolumeContext(a.volume.getVolumeContextMap()).build())
        .getPublishContextMap();
    assertThat(a.publishContext).containsEntry("gatewayAddress", GuestVm.HOST_FROM_GUEST + ":" + host.nbdPort);
    node().nodeStageVolume(NodeStageVolumeRequest.newBuilder().setVolumeId(a.id()).putAllPublishContext(a.publishContext)
        .setStagingTargetPath(a.staging).setVolumeCapability(a.cap).putAllVolumeContext(a.volume.getVolumeContextMap())
        .build());
    node().nodePublishVolume(NodePublishVolumeRequest.newBuilder().setVolumeId(a.id()).putAllPublishContext(a.publishContext)
        .setStagingTargetPath(a.staging).setTargetPath(a.target).setVolumeCapability(a.cap)
        .putAllVolumeContext(a.volume.getVolumeContextMap()).build());
  }

  /** NodeUnpublish, NodeUnstage, ControllerUnpublish: the reverse of {@link #attach}. */
  private void detach(Attachment a) throws Exception {
    node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(a.id()).setTargetPath(a.target).build());
    assertThat(sh("test -e " + a.target + " && echo present || echo removed", 10).output()).contains("removed");
    node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(a.id()).setStagingTargetPath(a.staging)
        .build());
    assertThat(sh("grep -c ' " + a.staging + " ' /proc/self/mounts || true", 10).output().strip()).isEqualTo("0");
    ctl().controllerUnpublishVolume(ControllerUnpublishVolumeRequest.newBuilder().setVolumeId(a.id()).setNodeId(NODE_ID)
        .build());
  }

  /**
   * DeleteVolume as the external-provisioner does it: retried while the gateway still holds the volume (its last
   * NBD connection closes a moment after NodeUnstage returns, then it flushes and releases the lease).
   */
  private void deleteVolume(String id) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      try {
        ctl().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
        return;
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.FAILED_PRECONDITION || System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(500);
      }
    }
  }

  private void assertBucketHoldsNothingOf(String... ids) throws Exception {
    var keys = host.bucketKeys();
    for (String id : ids) {
      assertThat(keys).as("objects of %s left in the bucket", id).noneMatch(k -> k.contains(id));
    }
  }

  private <T> T freezeWhile(String mountPoint, Supplier<T> call) throws Exception {
    sh("sync && fsfreeze -f " + mountPoint, 60);
    try {
      return call.get();
    } finally {
      sh("fsfreeze -u " + mountPoint, 60);
    }
  }

  // ---- plumbing ----------------------------------------------------------------------------------------------

  private ControllerGrpc.ControllerBlockingStub ctl() {
    return ControllerGrpc.newBlockingStub(controllerChannel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  private NodeGrpc.NodeBlockingStub node() {
    return NodeGrpc.newBlockingStub(nodeChannel).withDeadlineAfter(180, TimeUnit.SECONDS);
  }

  static CapacityRange range(long bytes) {
    return CapacityRange.newBuilder().setRequiredBytes(bytes).build();
  }

  static VolumeCapability mount(String fsType) {
    return VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fsType))
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(Mode.SINGLE_NODE_WRITER)).build();
  }

  private long dfBytes(String path) throws Exception {
    return Long.parseLong(sh("df -B1 --output=size " + path + " | tail -1", 10).output().strip());
  }

  private GuestVm.Result sh(String script, int seconds) throws Exception {
    var r = vm.exec(script, Duration.ofSeconds(seconds));
    if (r.exitCode() != 0) {
      throw new AssertionError("guest: " + script + " -> exit " + r.exitCode() + "\n" + r.output() + "\nnode plugin log:\n"
          + guestLog());
    }
    return r;
  }

  private String guestLog() {
    try {
      return vm.exec("tail -n 60 /tmp/node.log", Duration.ofSeconds(10)).output();
    } catch (Exception e) {
      return "(no guest log: " + e + ")";
    }
  }

  /**
   * {@link GuestJava#command} on a private copy of this JVM's class path: the jars in the shared local Maven
   * repository are rewritten by any concurrent {@code mvn install}, and the guest JVM loads classes from them lazily
   * for minutes. The copy lives under {@code target/} because the guest sees the host root except {@code /tmp}.
   */
  private static String guestJava(Class<?> main, String... args) throws IOException {
    Path dir = Path.of("target", "guest-classpath").toAbsolutePath();
    Files.createDirectories(dir);
    var entries = new ArrayList<String>();
    int n = 0;
    for (String entry : GuestJava.classPath().split(File.pathSeparator)) {
      Path p = Path.of(entry);
      if (Files.isRegularFile(p)) {
        Path copy = dir.resolve((n++) + "-" + p.getFileName());
        Files.copy(p, copy, StandardCopyOption.REPLACE_EXISTING);
        entries.add(copy.toString());
      } else {
        entries.add(entry);
      }
    }
    String original = GuestJava.command(main, args);
    String cp = GuestJava.classPath();
    assertThat(original).contains("'" + cp + "'");
    return original.replace("'" + cp + "'", "'" + String.join(File.pathSeparator, entries) + "'");
  }

  private static double seconds(long since) {
    return (System.nanoTime() - since) / 1e9;
  }
}
