package io.bucketdisk.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.common.tls.TlsFiles;
import io.bucketdisk.node.vm.GuestJava;
import io.bucketdisk.node.vm.GuestNodeMain;
import io.bucketdisk.node.vm.GuestVm;
import io.bucketdisk.node.vm.HostGateway;
import io.bucketdisk.proto.csi.IdentityGrpc;
import io.bucketdisk.proto.csi.NodeGrpc;
import io.bucketdisk.proto.csi.NodeStageVolumeRequest;
import io.bucketdisk.proto.csi.NodeUnstageVolumeRequest;
import io.bucketdisk.proto.csi.ProbeRequest;
import io.bucketdisk.proto.csi.VolumeCapability;
import io.bucketdisk.proto.csi.VolumeCapability.AccessMode.Mode;
import io.bucketdisk.testing.Requirement;
import io.bucketdisk.testing.TestPki;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
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
 * The node plugin attaches a volume from a gateway on another machine over mutual TLS, on a real kernel: the plugin
 * in the VM does the NBD handshake with STARTTLS and its node certificate in Java and hands the kernel the plain end
 * of its TLS relay; the host's gateway requires a client certificate and serves only the volumes published to the
 * node it names. Data written through {@code /dev/nbdN} in the guest is read back on the host from the gateway.
 * A certificate rotated on disk (a new name) is used for the next attach with no restart.
 */
@Tag("vm")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class NodeMutualTlsVmIT {
  static final int CSI_PORT = 7001;
  static final String SOCKET = "/tmp/csi/csi.sock";
  static final long MIB = 1 << 20;

  Path work;
  Path live;
  TestPki pki;
  HostGateway gateway;
  GuestVm vm;
  ManagedChannel channel;
  NodeGrpc.NodeBlockingStub node;

  @BeforeAll
  void boot() throws Exception {
    Requirement.require(GuestVm.unavailableReason().map(r -> "VM test: " + r));
    // Under the repository (the guest sees the host's files there; its /tmp is its own).
    work = Files.createDirectories(GuestVm.repoRoot().resolve("node-plugin/target/vm-mtls"))
        .resolve(Long.toString(System.nanoTime()));
    pki = TestPki.create(work.resolve("pki"), "bucketdisk");
    var gw = pki.issue("gateway", true);
    var nodeCert = pki.issue("guest-node", false);
    live = Files.createDirectories(work.resolve("live"));
    Files.copy(nodeCert.cert(), live.resolve("tls.crt"));
    Files.copy(nodeCert.key(), live.resolve("tls.key"));
    Files.copy(pki.caCert(), live.resolve("ca.crt"));
    gateway = new HostGateway(work.resolve("store"), TlsFiles.load(gw.cert(), gw.key(), pki.caCert()));
    for (var v : List.of("vol-tls", "vol-other", "vol-rot")) {
      gateway.addVolume(v, 64 * MIB);
    }
    gateway.publish("vol-tls", "guest-node");
    gateway.publish("vol-other", "other-node");
    gateway.publish("vol-rot", "guest-node-2");
    vm = GuestVm.boot(work.resolve("vm"), 2048, List.of(CSI_PORT), Duration.ofSeconds(90));
    // The certificate files live in the guest's own /tmp, as a mounted Secret would (the host's files reach the
    // guest through a caching 9p mount, which would not show a rotation).
    vm.exec("mkdir -p /tmp/csi /tmp/k/s1 /tmp/k/s2 /tmp/k/s3 /tmp/tls && cp " + live + "/* /tmp/tls/",
        Duration.ofSeconds(10)).orThrow("mkdir");
    String cmd = GuestJava.command(GuestNodeMain.class, SOCKET, "guest-node", GuestVm.HOST_FROM_GUEST + ":"
        + gateway.port(), "2", "/tmp/node-state", "8", "60", "unix:///tmp/no-control.sock",
        "/tmp/tls/tls.crt", "/tmp/tls/tls.key", "/tmp/tls/ca.crt");
    vm.exec("setsid " + cmd + " </dev/null >>/tmp/node.log 2>&1 &", Duration.ofSeconds(10)).orThrow("node plugin");
    vm.exec("setsid socat TCP-LISTEN:" + CSI_PORT + ",fork,reuseaddr UNIX-CONNECT:" + SOCKET
        + " </dev/null >/tmp/socat.log 2>&1 &", Duration.ofSeconds(10)).orThrow("socat");
    channel = Grpc.newChannelBuilderForAddress("127.0.0.1", vm.hostPort(CSI_PORT), InsecureChannelCredentials.create())
        .build();
    node = NodeGrpc.newBlockingStub(channel);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (true) {
      try {
        IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS).probe(ProbeRequest.getDefaultInstance());
        break;
      } catch (StatusRuntimeException e) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("node plugin did not answer: " + e.getStatus() + "\n" + log());
        }
        Thread.sleep(500);
      }
    }
  }

  @AfterAll
  void shutdown() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (vm != null) {
      vm.close();
    }
    if (gateway != null) {
      gateway.close();
    }
    if (work != null) {
      try (var files = Files.walk(work)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  String log() throws Exception {
    return vm.exec("tail -n 40 /tmp/node.log", Duration.ofSeconds(10)).output();
  }

  String sh(String script) throws Exception {
    var r = vm.exec(script, Duration.ofSeconds(120));
    if (r.exitCode() != 0) {
      throw new AssertionError("guest: " + script + " -> " + r.exitCode() + "\n" + r.output() + "\n" + log());
    }
    return r.output();
  }

  static NodeStageVolumeRequest stage(String volume, String path) {
    return NodeStageVolumeRequest.newBuilder().setVolumeId(volume).setStagingTargetPath(path)
        .setVolumeCapability(VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
            .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(Mode.SINGLE_NODE_WRITER)))
        .build();
  }

  void unstage(String volume, String path) {
    node().nodeUnstageVolume(NodeUnstageVolumeRequest.newBuilder().setVolumeId(volume).setStagingTargetPath(path)
        .build());
  }

  NodeGrpc.NodeBlockingStub node() {
    return node.withDeadlineAfter(120, TimeUnit.SECONDS);
  }

  static byte[] pattern() {
    byte[] line = "BUCKETDISK-OVER-MUTUAL-TLS\n".getBytes(StandardCharsets.US_ASCII);
    byte[] p = new byte[(int) MIB];
    for (int i = 0; i < p.length; i++) {
      p[i] = line[i % line.length];
    }
    return p;
  }

  @Test
  @Order(1)
  void theNodeAttachesOverMutualTlsAndItsWritesReachTheGateway() throws Exception {
    node().nodeStageVolume(stage("vol-tls", "/tmp/k/s1"));
    assertThat(gateway.connections("vol-tls")).as("two connections, each TLS through the relay").isEqualTo(2);
    String dev = sh("for d in /sys/block/nbd*; do [ \"$(cat $d/backend 2>/dev/null)\" = vol-tls ] && basename $d; "
        + "done; true").strip();
    assertThat(dev).matches("nbd\\d+");
    sh("yes BUCKETDISK-OVER-MUTUAL-TLS | head -c 1048576 > /tmp/pat && dd if=/tmp/pat of=/dev/" + dev
        + " bs=64k oflag=direct conv=fsync 2>/dev/null && dd if=/dev/" + dev
        + " bs=1M count=1 iflag=direct 2>/dev/null | cmp - /tmp/pat");
    unstage("vol-tls", "/tmp/k/s1");
    assertThat(Arrays.equals(gateway.read("vol-tls", (int) MIB), pattern())).as("bytes on the gateway").isTrue();
  }

  @Test
  @Order(2)
  void aVolumeNotPublishedToTheNodeIsRefusedAndUntouched() throws Exception {
    assertThatThrownBy(() -> node().nodeStageVolume(stage("vol-other", "/tmp/k/s2")))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode())
            .as(e.getStatus().toString()).isEqualTo(Status.Code.PERMISSION_DENIED));
    assertThat(gateway.connections("vol-other")).isZero();
    assertThat(gateway.read("vol-other", (int) MIB)).containsOnly(0);
  }

  @Test
  @Order(3)
  void aCertificateRotatedOnDiskIsUsedForTheNextAttach() throws Exception {
    var rotated = pki.issue("guest-node-2", false);
    // The node now speaks as guest-node-2: vol-rot (published to it) opens, vol-tls (published to guest-node) not.
    sh("cp " + rotated.key() + " /tmp/tls/k.new && cp " + rotated.cert() + " /tmp/tls/c.new"
        + " && mv /tmp/tls/k.new /tmp/tls/tls.key && mv /tmp/tls/c.new /tmp/tls/tls.crt");
    node().nodeStageVolume(stage("vol-rot", "/tmp/k/s3"));
    assertThat(gateway.connections("vol-rot")).isEqualTo(2);
    unstage("vol-rot", "/tmp/k/s3");
    assertThatThrownBy(() -> node().nodeStageVolume(stage("vol-tls", "/tmp/k/s1")))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode())
            .isEqualTo(Status.Code.PERMISSION_DENIED));
  }
}
