package io.bucketdisk.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.nbd.control.GatewayControlServer;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeIds;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The node's client of the gateway control API against a real gateway control socket on a directory store. */
@Timeout(60)
class GatewayControlIT {

  @Test
  void createsAndDeletesEphemeralVolumesOverTheUnixSocket() throws Exception {
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "bdnctl");
    Path socket = dir.resolve("control.sock");
    try (var provider = VolumeExportProvider.forStore(dir.resolve("store").toUri(),
            new LeaseOwner("gw", "unix://" + socket), CacheConfig.ofSize(256L << 20), null);
        var server = GatewayControlServer.start(socket, provider.volumes());
        var control = new GatewayControl("unix://" + socket)) {
      String name = "csi-" + "ab".repeat(32);
      String id = control.createEphemeral(name, 32L << 20, 0, Map.of("fsType", "xfs"), "node-1");
      assertThat(id).isEqualTo(VolumeIds.forName(name));
      assertThat(control.createEphemeral(name, 32L << 20, 0, Map.of("fsType", "xfs"), "node-1")).isEqualTo(id);
      var manifest = provider.volumes().catalog().orElseThrow().get(id).orElseThrow();
      assertThat(manifest.parameters()).containsEntry("fsType", "xfs");
      assertThat(manifest.publications()).as("published to the asking node").containsOnlyKeys("node-1");
      assertThatThrownBy(() -> control.createEphemeral(name, 64L << 20, 0, Map.of(), "node-1"))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
            assertThat(e.getStatus().getDescription()).startsWith("gateway control unix://" + socket + ": ");
          });
      assertThat(control.deleteEphemeral(id)).isTrue();
      assertThat(control.deleteEphemeral(id)).isFalse();
      assertThat(provider.volumes().catalog().orElseThrow().get(id)).isEmpty();
    } finally {
      try (var files = Files.walk(dir)) {
        for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  /** Issue 11: NodeUnstage waits for this; DeleteVolume right after it must find no lease. */
  @Test
  void awaitClosedReturnsOnceTheGatewayLetGoSoTheVolumeCanBeDeletedAtOnce() throws Exception {
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "bdnctl");
    Path socket = dir.resolve("control.sock");
    try (var provider = VolumeExportProvider.forStore(dir.resolve("store").toUri(),
            new LeaseOwner("gw", "unix://" + socket), CacheConfig.ofSize(256L << 20), null);
        var server = GatewayControlServer.start(socket, provider.volumes());
        var control = new GatewayControl("unix://" + socket)) {
      var catalog = provider.volumes().catalog().orElseThrow();
      catalog.create(new io.bucketdisk.store.VolumeSpec("pv-1", 16L << 20, 1 << 20, Map.of()));
      var handle = provider.open("pv-1").orElseThrow();
      handle.write(0, java.nio.ByteBuffer.wrap(new byte[4096]), 0);
      assertThat(catalog.get("pv-1").orElseThrow().lease()).as("open: the gateway holds the lease").isNotNull();
      assertThat(control.awaitClosed("pv-1", java.time.Duration.ofMillis(200))).as("still open").isEqualTo(1);
      Thread.ofVirtual().start(() -> {
        try {
          Thread.sleep(300);
          handle.close(); // what the kernel's NBD disconnect does to the gateway's last connection
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      assertThat(control.awaitClosed("pv-1", java.time.Duration.ofSeconds(20))).isZero();
      assertThat(catalog.get("pv-1").orElseThrow().lease()).as("lease released before the answer").isNull();
      catalog.delete("pv-1");
      assertThat(catalog.get("pv-1")).isEmpty();
      assertThat(control.awaitClosed("never-open", java.time.Duration.ofSeconds(5))).isZero();
    } finally {
      try (var files = Files.walk(dir)) {
        for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  @Test
  void anAbsentGatewayIsUnavailableNamingTheAddress() {
    try (var control = new GatewayControl("unix:///tmp/bd-no-such-gateway/control.sock")) {
      assertThatThrownBy(() -> control.deleteEphemeral("x")).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(e.getStatus().getDescription()).contains("unix:///tmp/bd-no-such-gateway/control.sock");
      });
    }
  }

  @Test
  void addressFormsAndABadOne() {
    assertThat(GatewayControl.target("unix:///run/bucketdisk/control.sock")).isEqualTo("unix:///run/bucketdisk/control.sock");
    assertThat(GatewayControl.target("/run/bucketdisk/control.sock")).isEqualTo("unix:///run/bucketdisk/control.sock");
    assertThat(GatewayControl.target("tcp://10.0.2.2:9820")).isEqualTo("10.0.2.2:9820");
    assertThat(GatewayControl.target("localhost:9820")).isEqualTo("localhost:9820");
    assertThatThrownBy(() -> GatewayControl.target("control.sock")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(io.bucketdisk.common.net.Endpoint.GRAMMAR);
  }
}
