package io.bucketdisk.node;

import io.bucketdisk.testing.Requirement;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.node.vm.GuestJava;
import io.bucketdisk.node.vm.GuestNodeMain;
import io.bucketdisk.node.vm.GuestVm;
import io.bucketdisk.node.vm.HostGateway;
import io.bucketdisk.node.vm.HostNbdServer;
import io.bucketdisk.proto.csi.CapacityRange;
import io.bucketdisk.proto.csi.IdentityGrpc;
import io.bucketdisk.proto.csi.NodeExpandVolumeRequest;
import io.bucketdisk.proto.csi.NodeGetCapabilitiesRequest;
import io.bucketdisk.proto.csi.NodeGetInfoRequest;
import io.bucketdisk.proto.csi.NodeGetVolumeStatsRequest;
import io.bucketdisk.proto.csi.NodeGrpc;
import io.bucketdisk.proto.csi.NodePublishVolumeRequest;
import io.bucketdisk.proto.csi.NodeServiceCapability;
import io.bucketdisk.proto.csi.NodeStageVolumeRequest;
import io.bucketdisk.proto.csi.NodeUnpublishVolumeRequest;
import io.bucketdisk.proto.csi.NodeUnstageVolumeRequest;
import io.bucketdisk.proto.csi.ProbeRequest;
import io.bucketdisk.proto.csi.VolumeCapability;
import io.bucketdisk.proto.csi.VolumeCapability.AccessMode.Mode;
import io.bucketdisk.proto.csi.VolumeUsage;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
 * The CSI node plugin on a real kernel. One VM boot serves every scenario: the plugin runs inside the guest
 * (the host's JDK through the 9p root) and serves its real Unix socket; socat in the guest relays a forwarded
 * TCP port to that socket so this test is the CSI client. Volumes come from the project's gateway on the host
 * (real cache, in-memory chunk stores that survive a gateway restart), and for the expand scenario from
 * {@code nbdkit file}, named through publish_context.
 */
@Tag("vm")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NodeCsiVmIT {
  static final int CSI_PORT = 7001;
  static final String SOCKET = "/tmp/csi/csi.sock";
  static final String FS_VOL = "vol-fs", BLOCK_VOL = "vol-blk", GROW_VOL = "vol-grow";
  static final long MIB = 1 << 20;

  Path work;
  HostGateway gateway;
  HostNbdServer nbdkit;
  GuestVm vm;
  ManagedChannel channel;
  NodeGrpc.NodeBlockingStub node;
  long started;

  @BeforeAll
  void boot() throws Exception {
    var reason = GuestVm.unavailableReason();
    Requirement.require(reason.map(r -> "VM test: " + r));
    started = System.nanoTime();
    work = Files.createTempDirectory(Path.of("/tmp"), "bdnodevm");
    gateway = new HostGateway(work.resolve("store"));
    gateway.addVolume(FS_VOL, 256 * MIB);
    gateway.addVolume(BLOCK_VOL, 128 * MIB);
    gateway.addVolume(GROW_VOL, 320 * MIB);
    // A second server, named through publish_context, for the stage path that does not use --gateway.
    nbdkit = HostNbdServer.start(work.resolve("nbdkit"), "vol-elsewhere", 64 * MIB);
    vm = GuestVm.boot(work.resolve("vm"), 2048, List.of(CSI_PORT), Duration.ofSeconds(90));
    vm.exec("mkdir -p /tmp/csi /tmp/k/pods/a /tmp/k/pods/b /tmp/k/stage-fs /tmp/k/stage-blk /tmp/k/stage-grow", Duration.ofSeconds(10))
        .orThrow("mkdir");
    startPlugin();
    vm.exec("setsid socat TCP-LISTEN:" + CSI_PORT + ",fork,reuseaddr UNIX-CONNECT:" + SOCKET
        + " </dev/null >/tmp/socat.log 2>&1 &", Duration.ofSeconds(10)).orThrow("socat");
    channel = Grpc.newChannelBuilderForAddress("127.0.0.1", vm.hostPort(CSI_PORT), InsecureChannelCredentials.create())
        .build();
    node = NodeGrpc.newBlockingStub(channel);
    awaitProbe();
  }

  private void startPlugin() throws Exception {
    String cmd = GuestJava.command(GuestNodeMain.class, SOCKET, "guest-node", GuestVm.HOST_FROM_GUEST + ":" + gateway.port(),
        "4", "/tmp/node-state", "8", "60");
    vm.exec("setsid " + cmd + " </dev/null >>/tmp/node.log 2>&1 & echo $! > /tmp/node.pid", Duration.ofSeconds(10))
        .orThrow("start node plugin");
  }

  private void awaitProbe() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (true) {
      try {
        var r = IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS).probe(ProbeRequest.getDefaultInstance());
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

  private String guestLog() {
    try {
      return vm.exec("tail -n 60 /tmp/node.log", Duration.ofSeconds(10)).output();
    } catch (Exception e) {
      return "(no guest log: " + e + ")";
    }
  }

  private NodeGrpc.NodeBlockingStub node() {
    return node.withDeadlineAfter(180, TimeUnit.SECONDS);
  }

  private GuestVm.Result sh(String script, int seconds) throws Exception {
    var r = vm.exec(script, Duration.ofSeconds(seconds));
    if (r.exitCode() != 0) {
      throw new AssertionError("guest: " + script + " -> exit " + r.exitCode() + "\n" + r.output() + "\nplugin log:\n" + guestLog());
    }
    return r;
  }

  @AfterAll
  void shutdown() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (vm != null) {
      vm.close();
    }
    if (nbdkit != null) {
      nbdkit.close();
    }
    if (gateway != null) {
      gateway.close();
    }
    if (work != null) {
      try (var files = Files.walk(work)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
    if (started != 0) {
      System.out.printf("NodeCsiVmIT: VM scenarios took %.1f s%n", (System.nanoTime() - started) / 1e9);
    }
  }

  static VolumeCapability mount(String fs, Mode mode) {
    return VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs))
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode)).build();
  }

  static VolumeCapability block() {
    return VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(Mode.SINGLE_NODE_WRITER)).build();
  }

  static NodeStageVolumeRequest stage(String vol, String path, VolumeCapability cap) {
    return NodeStageVolumeRequest.newBuilder().setVolumeId(vol).setStagingTargetPath(path).setVolumeCapability(cap).build();
  }

  static NodePublishVolumeRequest publish(String vol, String staging, String target, VolumeCapability cap) {
    return NodePublishVolumeRequest.newBuilder().setVolumeId(vol).setStagingTargetPath(staging).setTargetPath(target)
        .setVolumeCapability(cap).build();
  }

  static void assertCode(Status.Code code, Runnable call) {
    assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class,
        e -> assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(code));
  }

  @Test
  @Order(1)
  void infoCapabilitiesAndBadRequests() {
    var info = node().nodeGetInfo(NodeGetInfoRequest.getDefaultInstance());
    assertThat(info.getNodeId()).isEqualTo("guest-node");
    assertThat(info.getMaxVolumesPerNode()).isEqualTo(16);
    assertThat(info.getAccessibleTopology().getSegmentsMap()).containsEntry(NodeService.TOPOLOGY_KEY, "guest-node");
    assertThat(node().nodeGetCapabilities(NodeGetCapabilitiesRequest.getDefaultInstance()).getCapabilitiesList())
        .extracting(c -> c.getRpc().getType())
        .containsExactlyInAnyOrder(NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME,
            NodeServiceCapability.RPC.Type.GET_VOLUME_STATS, NodeServiceCapability.RPC.Type.EXPAND_VOLUME);

    var ext4 = mount("ext4", Mode.SINGLE_NODE_WRITER);
    assertCode(Status.Code.NOT_FOUND, () -> node().nodeStageVolume(stage("no-such-volume", "/tmp/k/stage-fs", ext4)));
    assertCode(Status.Code.FAILED_PRECONDITION,
        () -> node().nodeStageVolume(stage(FS_VOL, "/tmp/k/stage-fs", mount("ext4", Mode.MULTI_NODE_MULTI_WRITER))));
    assertCode(Status.Code.FAILED_PRECONDITION,
        () -> node().nodeStageVolume(stage(FS_VOL, "/tmp/k/stage-fs", mount("btrfs", Mode.SINGLE_NODE_WRITER))));
    assertCode(Status.Code.INVALID_ARGUMENT, () -> node().nodeStageVolume(stage(FS_VOL, "/tmp/k/missing", ext4)));
    assertCode(Status.Code.INVALID_ARGUMENT, () -> node().nodeStageVolume(stage("", "/tmp/k/stage-fs", ext4)));
    assertCode(Status.Code.INVALID_ARGUMENT, () -> node().nodeStageVolume(
        NodeStageVolumeRequest.newBuilder().setVolumeId(FS_VOL).setStagingTargetPath("/tmp/k/stage-fs").build()));
    assertCode(Status.Code.FAILED_PRECONDITION, () -> node().nodePublishVolume(publish(FS_VOL, "", "/tmp/k/pods/a/m", ext4)));
    assertCode(Status.Code.NOT_FOUND,
        () -> node().nodePublishVolume(publish(FS_VOL, "/tmp/k/stage-fs", "/tmp/k/pods/a/m", ext4)));
    assertCode(Status.Code.NOT_FOUND, () -> node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder()
        .setVolumeId("no-such-volume").setVolumePath("/tmp/k/stage-fs").build()));
    assertCode(Status.Code.NOT_FOUND, () -> node().nodeExpandVolume(NodeExpandVolumeRequest.newBuilder()
        .setVolumeId("no-such-volume").setVolumePath("/tmp/k/stage-fs").build()));
    // Not staged / not published: OK, as the spec says (and what CO retries rely on).
    node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(FS_VOL).setStagingTargetPath("/tmp/k/stage-fs").build());
    node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(FS_VOL).setTargetPath("/tmp/k/pods/a/none").build());
  }

  @Test
  @Order(2)
  void mountVolumeSurvivesUnstageAndStageWithSameChecksums() throws Exception {
    var cap = mount("ext4", Mode.SINGLE_NODE_WRITER);
    node().nodeStageVolume(stage(FS_VOL, "/tmp/k/stage-fs", cap));
    node().nodeStageVolume(stage(FS_VOL, "/tmp/k/stage-fs", cap)); // idempotent
    assertCode(Status.Code.ALREADY_EXISTS,
        () -> node().nodeStageVolume(stage(FS_VOL, "/tmp/k/stage-fs", mount("xfs", Mode.SINGLE_NODE_WRITER))));
    var dev = sh("grep ' /tmp/k/stage-fs ' /proc/self/mounts | cut -d' ' -f1,3", 10).output().strip();
    assertThat(dev).matches("/dev/nbd\\d+ ext4");
    String nbd = dev.split(" ")[0].substring("/dev/".length());
    assertThat(sh("cat /sys/block/" + nbd + "/backend", 10).output().strip()).isEqualTo(FS_VOL);
    assertThat(gateway.connections(FS_VOL)).isEqualTo(4);

    node().nodePublishVolume(publish(FS_VOL, "/tmp/k/stage-fs", "/tmp/k/pods/a/mount", cap));
    node().nodePublishVolume(publish(FS_VOL, "/tmp/k/stage-fs", "/tmp/k/pods/a/mount", cap)); // idempotent
    sh("cd /tmp/k/pods/a/mount && for i in 1 2 3; do dd if=/dev/urandom of=f$i bs=1M count=6 2>/dev/null; done"
        + " && mkdir d && echo hello > d/x && sha256sum f1 f2 f3 d/x > /tmp/sums && sync", 180);

    // A second, read-only publication of the same staged volume.
    node().nodePublishVolume(publish(FS_VOL, "/tmp/k/stage-fs", "/tmp/k/pods/a/ro", cap).toBuilder().setReadonly(true).build());
    assertCode(Status.Code.ALREADY_EXISTS, () -> node().nodePublishVolume(publish(FS_VOL, "/tmp/k/stage-fs", "/tmp/k/pods/a/ro", cap)));
    assertThat(sh("cat /tmp/k/pods/a/ro/d/x; touch /tmp/k/pods/a/ro/nope 2>&1 || true", 10).output())
        .contains("hello").contains("Read-only file system");
    node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(FS_VOL).setTargetPath("/tmp/k/pods/a/ro").build());

    var stats = node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId(FS_VOL)
        .setVolumePath("/tmp/k/pods/a/mount").build());
    var bytes = stats.getUsageList().stream().filter(u -> u.getUnit() == VolumeUsage.Unit.BYTES).findFirst().orElseThrow();
    assertThat(bytes.getTotal()).isBetween(200 * MIB, 256 * MIB);
    assertThat(bytes.getUsed()).isGreaterThanOrEqualTo(18 * MIB);

    node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(FS_VOL).setTargetPath("/tmp/k/pods/a/mount").build());
    assertThat(sh("test -e /tmp/k/pods/a/mount && echo present || echo removed", 10).output()).contains("removed");
    node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(FS_VOL).setStagingTargetPath("/tmp/k/stage-fs").build());
    node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(FS_VOL).setStagingTargetPath("/tmp/k/stage-fs").build());
    assertThat(sh("cat /sys/block/" + nbd + "/size; grep -c ' /tmp/k/stage-fs ' /proc/self/mounts || true", 10).output())
        .isEqualToIgnoringWhitespace("00");
    // The data is in the gateway's store, in chunk objects or in the write log a close leaves (at least the three
    // 6 MiB files).
    assertThat(gateway.storedBytes(FS_VOL)).isGreaterThanOrEqualTo(18 * MIB);

    node().nodeStageVolume(stage(FS_VOL, "/tmp/k/stage-fs", cap));
    node().nodePublishVolume(publish(FS_VOL, "/tmp/k/stage-fs", "/tmp/k/pods/a/mount", cap));
    assertThat(sh("cd /tmp/k/pods/a/mount && sha256sum -c /tmp/sums", 120).output()).contains("f1: OK", "f2: OK", "f3: OK", "d/x: OK");
  }

  @Test
  @Order(3)
  void killedNodePluginLeavesTheMountWorkingAndUnstageWorksAfterRestart() throws Exception {
    var cap = mount("ext4", Mode.SINGLE_NODE_WRITER);
    node().nodeStageVolume(stage(FS_VOL, "/tmp/k/stage-fs", cap)); // no-ops when the previous scenario left it so
    node().nodePublishVolume(publish(FS_VOL, "/tmp/k/stage-fs", "/tmp/k/pods/a/mount", cap));
    sh("touch /tmp/sums", 10);
    sh("kill -9 $(cat /tmp/node.pid); sleep 1; ! kill -0 $(cat /tmp/node.pid) 2>/dev/null", 20);
    try {
      sh("cd /tmp/k/pods/a/mount && dd if=/dev/urandom of=after-kill bs=1M count=4 2>/dev/null && sync"
          + " && sha256sum after-kill > /tmp/sums2 && echo 3 > /proc/sys/vm/drop_caches && sha256sum -c /tmp/sums2", 120);
    } finally {
      startPlugin();
      awaitProbe();
    }
    var stats = node().nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId(FS_VOL)
        .setVolumePath("/tmp/k/stage-fs").build());
    assertThat(stats.getUsageCount()).isEqualTo(2);
    sh("cd /tmp/k/pods/a/mount && sha256sum -c /tmp/sums && sha256sum -c /tmp/sums2", 120);
    node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(FS_VOL).setTargetPath("/tmp/k/pods/a/mount").build());
    node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(FS_VOL).setStagingTargetPath("/tmp/k/stage-fs").build());
    assertThat(sh("grep -c ' /tmp/k/stage-fs ' /proc/self/mounts || true; ls /tmp/node-state | wc -l", 10).output())
        .isEqualToIgnoringWhitespace("00");
  }

  @Test
  @Order(4)
  void blockVolumeKeepsVerifiedIoThroughAGatewayRestart() throws Exception {
    var cap = block();
    node().nodeStageVolume(stage(BLOCK_VOL, "/tmp/k/stage-blk", cap));
    node().nodePublishVolume(publish(BLOCK_VOL, "/tmp/k/stage-blk", "/tmp/k/pods/b/dev", cap));
    assertThat(sh("test -b /tmp/k/pods/b/dev && echo block", 10).output()).contains("block");
    // Pattern through the published device file, read back after dropping caches.
    sh("dd if=/dev/urandom of=/tmp/pattern bs=1M count=8 2>/dev/null && dd if=/tmp/pattern of=/tmp/k/pods/b/dev bs=1M"
        + " seek=16 oflag=direct conv=fsync 2>/dev/null && echo 3 > /proc/sys/vm/drop_caches"
        + " && dd if=/tmp/k/pods/b/dev bs=1M skip=16 count=8 iflag=direct 2>/dev/null | cmp - /tmp/pattern", 120);

    String fio = "cd /tmp && fio --name=verify --verify_state_save=0 --filename=/tmp/k/pods/b/dev --rw=randwrite --bs=64k --size=64M --direct=1"
        + " --ioengine=psync --iodepth=1 --numjobs=1 --verify=crc32c --do_verify=1 --verify_fatal=1 --offset=32M";
    sh("setsid sh -c '" + fio + " > /tmp/fio.log 2>&1; echo $? > /tmp/fio.rc' </dev/null >/dev/null 2>&1 &", 10);
    Thread.sleep(4000);
    gateway.restart();
    var r = sh("for i in $(seq 1 240); do test -f /tmp/fio.rc && break; sleep 1; done; cat /tmp/fio.rc; cat /tmp/fio.log", 260);
    System.out.println(r.output());
    assertThat(r.output().strip()).startsWith("0");
    assertThat(r.output()).contains("err= 0").doesNotContain("verify: bad");
    assertThat(guestLog()).containsPattern("vol-blk: /dev/nbd\\d+ handed \\d fresh connection\\(s\\) after LINK_DEAD");

    node().nodeUnpublishVolume(NodeUnpublishVolumeRequest.newBuilder().setVolumeId(BLOCK_VOL).setTargetPath("/tmp/k/pods/b/dev").build());
    assertThat(sh("test -e /tmp/k/pods/b/dev && echo present || echo removed", 10).output()).contains("removed");
    node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(BLOCK_VOL).setStagingTargetPath("/tmp/k/stage-blk").build());
  }

  @Test
  @Order(5)
  void xfsGrowsOnlineAfterNodeExpand() throws Exception {
    var cap = mount("xfs", Mode.SINGLE_NODE_WRITER);
    node().nodeStageVolume(stage(GROW_VOL, "/tmp/k/stage-grow", cap));
    sh("echo data > /tmp/k/stage-grow/keep && sync", 30);
    long before = Long.parseLong(sh("df -B1 --output=size /tmp/k/stage-grow | tail -1", 10).output().strip());
    gateway.resize(GROW_VOL, 640 * MIB);
    var resp = node().nodeExpandVolume(NodeExpandVolumeRequest.newBuilder().setVolumeId(GROW_VOL)
        .setVolumePath("/tmp/k/stage-grow").setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(640 * MIB)).build());
    assertThat(resp.getCapacityBytes()).isEqualTo(640 * MIB);
    long after = Long.parseLong(sh("df -B1 --output=size /tmp/k/stage-grow | tail -1", 10).output().strip());
    assertThat(after).isGreaterThan(before + 250 * MIB);
    assertThat(sh("cat /tmp/k/stage-grow/keep", 10).output()).contains("data");
    assertCode(Status.Code.OUT_OF_RANGE, () -> node().nodeExpandVolume(NodeExpandVolumeRequest.newBuilder()
        .setVolumeId(GROW_VOL).setVolumePath("/tmp/k/stage-grow")
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(2048 * MIB)).build()));
    node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(GROW_VOL).setStagingTargetPath("/tmp/k/stage-grow").build());
  }

  @Test
  @Order(6)
  void publishContextNamesAnotherGateway() throws Exception {
    var cap = block();
    node().nodeStageVolume(stage("vol-elsewhere", "/tmp/k/stage-blk", cap).toBuilder()
        .putPublishContext(NodeService.GATEWAY_KEY, GuestVm.HOST_FROM_GUEST + ":" + nbdkit.port()).build());
    var dev = sh("for d in /sys/block/nbd*; do [ \"$(cat $d/backend 2>/dev/null)\" = vol-elsewhere ] && echo ${d##*/}; done; true", 10)
        .output().strip();
    assertThat(dev).startsWith("nbd");
    sh("printf 'elsewhere' | dd of=/dev/" + dev + " bs=4096 conv=sync,fsync oflag=direct 2>/dev/null", 30);
    node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId("vol-elsewhere").setStagingTargetPath("/tmp/k/stage-blk").build());
    assertThat(new String(nbdkit.read(0, 9), java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("elsewhere");
  }

}
