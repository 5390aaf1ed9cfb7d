package io.bucketdisk.nbd.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.common.tls.PeerIdentity;
import io.bucketdisk.common.tls.TlsFiles;
import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.proto.gateway.CreateEphemeralVolumeRequest;
import io.bucketdisk.proto.gateway.DeleteEphemeralVolumeRequest;
import io.bucketdisk.proto.gateway.FlushVolumeRequest;
import io.bucketdisk.proto.gateway.GatewayControlGrpc;
import io.bucketdisk.proto.gateway.ListOpenVolumesRequest;
import io.bucketdisk.proto.gateway.SnapshotVolumeRequest;
import io.bucketdisk.rpc.GatewayChannels;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.VolumeSpec;
import io.bucketdisk.testing.TestPki;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The control API on TCP with mutual TLS, through the channels the node plugin and the controller use
 * ({@link GatewayChannels}): who may call what, and that refused callers change nothing.
 */
@Timeout(120)
class ControlMutualTlsIT {
  static Path dir;
  static TestPki pki;
  static VolumeExportProvider provider;
  static VolumeCatalog catalog;
  static GatewayControlServer server;
  static final List<ManagedChannel> channels = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory(Path.of("/tmp"), "bdctltls");
    pki = TestPki.create(dir.resolve("pki"), "bucketdisk");
    var gw = pki.issue("gateway", true);
    var config = new CacheConfig(64L << 20, 16L << 20, 1 << 20, 4, 4, 4, Duration.ofSeconds(3),
        Duration.ofSeconds(30), Duration.ofSeconds(30));
    provider = VolumeExportProvider.forStore(Files.createDirectories(dir.resolve("store")).toUri(),
        new LeaseOwner("gw", "none"), config, null);
    catalog = provider.volumes().catalog().orElseThrow();
    catalog.create(new VolumeSpec("vol-a", 4 << 20, 1 << 20, Map.of()));
    catalog.publish("vol-a", "node-a", false);
    server = GatewayControlServer.start("tcp://127.0.0.1:0", provider.volumes(), TlsFiles.load(gw.cert(), gw.key(), pki.caCert()));
  }

  @AfterAll
  static void stop() throws Exception {
    channels.forEach(ManagedChannel::shutdownNow);
    if (server != null) {
      server.close();
    }
    if (provider != null) {
      provider.close();
    }
  }

  static GatewayControlGrpc.GatewayControlBlockingStub as(TestPki.@Nullable Leaf leaf, Path ca) throws Exception {
    var tls = TlsFiles.load(leaf == null ? null : leaf.cert(), leaf == null ? null : leaf.key(), ca);
    var channel = GatewayChannels.open(Endpoint.parse(server.address()), tls);
    channels.add(channel);
    return GatewayControlGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  static Status.Code code(Runnable call) {
    var e = catchThrowableOfType(StatusRuntimeException.class, call::run);
    return e == null ? Status.Code.OK : e.getStatus().getCode();
  }

  @Test
  void theControllerMayFlushAndSnapshotAnyVolume() throws Exception {
    var controller = as(pki.issue(PeerIdentity.CONTROLLER, false), pki.caCert());
    controller.flushVolume(FlushVolumeRequest.newBuilder().setVolumeId("vol-a").build());
    controller.listOpenVolumes(ListOpenVolumesRequest.getDefaultInstance());
    assertThat(code(() -> controller.createEphemeralVolume(CreateEphemeralVolumeRequest.newBuilder().setName("x")
        .setSizeBytes(1 << 24).setNodeId("node-a").build()))).isEqualTo(Status.Code.PERMISSION_DENIED);
  }

  @Test
  void aNodeMayTouchOnlyItsOwnVolumes() throws Exception {
    var nodeA = as(pki.issue("node-a", false), pki.caCert());
    var nodeB = as(pki.issue("node-b", false), pki.caCert());
    nodeA.flushVolume(FlushVolumeRequest.newBuilder().setVolumeId("vol-a").build());
    assertThat(code(() -> nodeB.flushVolume(FlushVolumeRequest.newBuilder().setVolumeId("vol-a").build())))
        .isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(code(() -> nodeB.snapshotVolume(SnapshotVolumeRequest.newBuilder().setVolumeId("vol-a")
        .setSnapshotId("stolen").build()))).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(code(() -> nodeB.deleteEphemeralVolume(DeleteEphemeralVolumeRequest.newBuilder().setVolumeId("vol-a")
        .build()))).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(code(() -> nodeB.createEphemeralVolume(CreateEphemeralVolumeRequest.newBuilder().setName("csi-x")
        .setSizeBytes(1 << 24).setNodeId("node-a").build()))).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(catalog.getSnapshot("stolen")).isEmpty();
    assertThat(catalog.get("vol-a")).isPresent();
    // Its own ephemeral volume: allowed.
    var id = nodeB.createEphemeralVolume(CreateEphemeralVolumeRequest.newBuilder().setName("csi-mine")
        .setSizeBytes(1 << 24).setNodeId("node-b").build()).getVolumeId();
    assertThat(nodeB.deleteEphemeralVolume(DeleteEphemeralVolumeRequest.newBuilder().setVolumeId(id).build())
        .getExisted()).isTrue();
  }

  @Test
  void clientsWithoutACertificateOrFromAnotherCaAreRefused() throws Exception {
    var none = as(null, pki.caCert());
    assertThat(code(() -> none.snapshotVolume(SnapshotVolumeRequest.newBuilder().setVolumeId("vol-a")
        .setSnapshotId("anon").build()))).isEqualTo(Status.Code.UNAVAILABLE);
    var other = TestPki.create(dir.resolve("other"), "other");
    var stranger = as(other.issue(PeerIdentity.CONTROLLER, false), pki.caCert());
    assertThat(code(() -> stranger.snapshotVolume(SnapshotVolumeRequest.newBuilder().setVolumeId("vol-a")
        .setSnapshotId("strange").build()))).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(catalog.getSnapshot("anon")).isEmpty();
    assertThat(catalog.getSnapshot("strange")).isEmpty();
  }
}
