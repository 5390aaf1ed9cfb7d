package io.bucketdisk.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.VolumeIds;
import io.bucketdisk.store.VolumeSpec;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code bucketdisk volume …} end to end on a directory store: lifecycle, JSON output, one-line errors, and ephemeral
 * inline volumes made the way a gateway makes them (store manifest marked {@code csi.ephemeral=true}, opened writable
 * under a gateway's lease).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class VolumeCommandTest {

  @TempDir Path dir;

  private record Result(int code, String out, String err) {}

  private Result run(String... args) {
    var out = new StringWriter();
    var err = new StringWriter();
    var cli = new CommandLine(new VolumeCommand());
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      if (ex instanceof UserError u) {
        cmd.getErr().println("bucketdisk: " + u.getMessage());
        return 1;
      }
      throw ex;
    });
    String[] all = new String[args.length + 2];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--store";
    all[args.length + 1] = "file://" + dir;
    return new Result(cli.execute(all), out.toString(), err.toString());
  }

  @Test
  void lifecycle() throws Exception {
    var created = run("create", "data", "--size", "10Gi", "--chunk-size", "1Mi", "--json");
    assertThat(created.code()).as(created.err()).isZero();
    var json = new ObjectMapper().readTree(created.out());
    assertThat(json.get("id").asText()).isEqualTo("data");
    assertThat(json.get("sizeBytes").asLong()).isEqualTo(10L << 30);
    assertThat(json.get("chunkSize").asInt()).isEqualTo(1 << 20);
    assertThat(run("create", "data", "--size", "10Gi", "--chunk-size", "1Mi").code()).as("idempotent").isZero();

    assertThat(run("snapshot", "data", "s1").code()).isZero();
    assertThat(run("create", "copy", "--from-snapshot", "s1").out()).contains("snapshot:s1");
    assertThat(run("expand", "data", "--size", "20Gi").out()).contains("20 GiB");
    var ls = run("ls");
    assertThat(ls.out()).contains("data").contains("copy").contains("20 GiB");
    assertThat(run("ls", "--snapshots").out()).contains("s1");
    assertThat(run("inspect", "data").out()).contains("snapshots:     s1").contains("chunk size:    1 MiB");

    assertThat(run("rm", "copy", "data").code()).isZero();
    assertThat(run("rm", "--snapshot", "s1").code()).isZero();
    assertThat(run("rm", "data").code()).as("idempotent").isZero();
    assertThat(new ObjectMapper().readTree(run("ls", "--json").out()).size()).isZero();
  }

  @Test
  void listDeleteAndResizeAreNamesForLsRmAndExpand() throws Exception {
    assertThat(run("create", "data", "--size", "1Gi").code()).isZero();
    assertThat(run("resize", "data", "--size", "2Gi").out()).contains("2 GiB");
    assertThat(run("list").out()).contains("data").contains("2 GiB");
    assertThat(run("delete", "data").code()).isZero();
    assertThat(new ObjectMapper().readTree(run("list", "--json").out()).size()).isZero();
  }

  @Test
  void errorsAreOneLineNamingTheFix() {
    var bad = run("create", "x", "--chunk-size", "3Mi");
    assertThat(bad.code()).isEqualTo(1);
    assertThat(bad.err()).startsWith("bucketdisk: parameter chunkSize=3Mi").doesNotContain("Exception");
    assertThat(run("create", "x", "--size", "ten").err()).contains("--size: " + io.bucketdisk.common.size.ByteSize.error("ten"));
    run("create", "y", "--size", "1Gi");
    assertThat(run("create", "y", "--size", "2Gi").err()).contains("exists with");
    assertThat(run("inspect", "nope").err()).contains("no volume or snapshot nope");
    assertThat(run("snapshot", "nope", "s").err()).contains("source volume nope does not exist");
  }

  private static final String HANDLE = "csi-" + "5e".repeat(30); // + the pod name: like kubelet's csi-<64 hex>
  private static final LeaseOwner GATEWAY = new LeaseOwner("gw-node-a", "unix:///run/bucketdisk/control.sock");

  private VolumeCatalog catalog(CatalogOptions options) throws Exception {
    return VolumeCatalog.open(URI.create("file://" + dir), options);
  }

  /** Creates an ephemeral volume as the gateway's CreateEphemeralVolume does; returns its id. */
  private static String createEphemeral(VolumeCatalog catalog, String podName) throws Exception {
    String id = VolumeIds.forName(HANDLE + podName);
    catalog.create(new VolumeSpec(id, 64L << 20, 1 << 20, Map.of(VolumeIds.NAME_KEY, HANDLE + podName,
        VolumeIds.EPHEMERAL_KEY, "true", "fsType", "ext4", VolumeCommand.POD_NAME, podName,
        VolumeCommand.POD_NAMESPACE, "default", VolumeCommand.POD_UID, "uid-" + podName)));
    return id;
  }

  private List<Path> filesOf(String id) throws Exception {
    try (var files = Files.walk(dir)) {
      return files.filter(Files::isRegularFile).filter(f -> dir.relativize(f).toString().contains(id)).toList();
    }
  }

  @Test
  void ephemeralVolumeIsListedMarkedAndNeverRemovedWhileOpenOnAGateway() throws Exception {
    assertThat(run("create", "data", "--size", "1Gi").code()).isZero();
    try (var catalog = catalog(CatalogOptions.defaults())) {
      String id = createEphemeral(catalog, "inline");
      byte[] chunk = new byte[1 << 20];
      Arrays.fill(chunk, (byte) 7);
      try (var open = catalog.open(id, GATEWAY, false)) {
        open.write(3, ByteBuffer.wrap(chunk));

        var ls = run("ls");
        assertThat(ls.code()).as(ls.err()).isZero();
        assertThat(ls.out().lines().filter(l -> l.startsWith(id + " ")).findFirst().orElseThrow())
            .contains("ephemeral").contains("gw-node-a").contains("default/inline (uid uid-inline)");
        assertThat(ls.out().lines().filter(l -> l.startsWith("data ")).findFirst().orElseThrow())
            .contains(" pv ").doesNotContain("gw-node-a");
        var only = run("ls", "--ephemeral");
        assertThat(only.out()).contains(id).doesNotContain("data ");
        var json = new ObjectMapper().readTree(run("ls", "--ephemeral", "--json").out());
        assertThat(json.size()).isEqualTo(1);
        assertThat(json.get(0).get("ephemeral").asBoolean()).isTrue();
        assertThat(json.get(0).get("inUse").asBoolean()).isTrue();
        assertThat(json.get(0).get("openOn").asText()).isEqualTo("gw-node-a");
        assertThat(json.get(0).get("name").asText()).isEqualTo(HANDLE + "inline");

        var inspect = run("inspect", id);
        assertThat(inspect.out()).contains("kind:          ephemeral inline volume")
            .contains("pod-side name: " + HANDLE + "inline").contains("pod:           default/inline")
            .contains("gw-node-a (unix:///run/bucketdisk/control.sock) until").contains(": open, in use");
        assertThat(new ObjectMapper().readTree(run("inspect", id, "--json").out()).get("inUse").asBoolean()).isTrue();
        assertThat(run("inspect", "data").out()).contains("name:          data").doesNotContain("ephemeral");

        var rm = run("rm", id);
        assertThat(rm.code()).isEqualTo(1);
        assertThat(rm.err().lines().toList()).hasSize(1);
        assertThat(rm.err()).startsWith("bucketdisk: volume " + id + " is in use: ephemeral inline volume of pod "
            + "default/inline").contains("gateway gw-node-a").doesNotContain("Exception");
        assertThat(catalog.get(id)).as("still there").isPresent();
        var back = ByteBuffer.allocate(1 << 20);
        assertThat(open.read(3, back)).isTrue();
        assertThat(back.array()).as("data untouched").isEqualTo(chunk);
        open.write(4, ByteBuffer.wrap(chunk)); // the owner still holds its lease
      }
      // closed on the gateway: the lease is released, so the volume is no longer in use
      assertThat(run("ls", "--ephemeral").out()).contains(id).doesNotContain("gw-node-a");
      assertThat(run("inspect", id).out()).contains("lease:         -");
      assertThat(filesOf(id)).as("manifest and chunks before rm").hasSizeGreaterThanOrEqualTo(3);
      var rm = run("rm", id);
      assertThat(rm.code()).as(rm.err()).isZero();
      assertThat(rm.out()).contains("deleted " + id);
      assertThat(filesOf(id)).as("no object of the volume left").isEmpty();
      assertThat(new ObjectMapper().readTree(run("ls", "--ephemeral", "--json").out()).size()).isZero();
      assertThat(run("ls").out()).contains("data ");
    }
  }

  @Test
  void ephemeralVolumeOfAGatewayThatDiedIsRemovableOnlyAfterItsLeaseExpired() throws Exception {
    try (var catalog = catalog(CatalogOptions.defaults())) {
      String live = createEphemeral(catalog, "live");
      String dead = createEphemeral(catalog, "dead");
      // Gateways that died holding their leases (never renewed, never released): one lease taken just now, one
      // taken by a host whose lease ran out a minute ago.
      catalog.acquireLease(live, GATEWAY);
      try (var past = catalog(CatalogOptions.defaults().withClock(Clock.offset(Clock.systemUTC(),
          Duration.ofSeconds(-90))))) {
        past.acquireLease(dead, new LeaseOwner("gw-node-b", "unix:///run/bucketdisk/control.sock"));
      }
      var ls = run("ls", "--ephemeral");
      assertThat(ls.out().lines().filter(l -> l.startsWith(live + " ")).findFirst().orElseThrow()).contains("gw-node-a");
      assertThat(ls.out().lines().filter(l -> l.startsWith(dead + " ")).findFirst().orElseThrow())
          .doesNotContain("gw-node-b");
      assertThat(run("inspect", dead).out()).contains("gw-node-b").contains(": expired, not in use");

      var refused = run("rm", live);
      assertThat(refused.code()).isEqualTo(1);
      assertThat(refused.err()).contains("is in use").contains("retry after the lease expires with --force");
      assertThat(catalog.get(live)).isPresent();

      assertThat(run("rm", dead).code()).isZero();
      assertThat(catalog.get(dead)).isEmpty();
      assertThat(filesOf(dead)).isEmpty();
    }
  }

  @Test
  void publishedEphemeralVolumeIsRefusedWithoutALeaseAndForceRemovesItOnlyWithNoLiveLease() throws Exception {
    try (var catalog = catalog(CatalogOptions.defaults())) {
      // Published to its node by the gateway's CreateEphemeralVolume; no lease, as while that gateway restarts.
      String id = createEphemeral(catalog, "restarting");
      catalog.publish(id, "node-a", false, true);
      byte[] chunk = new byte[1 << 20];
      Arrays.fill(chunk, (byte) 9);
      try (var open = catalog.open(id, GATEWAY, false)) {
        open.write(0, ByteBuffer.wrap(chunk));
      }
      assertThat(catalog.get(id).orElseThrow().lease()).isNull();
      assertThat(run("ls", "--ephemeral").out()).contains("node-a");

      var refused = run("rm", id);
      assertThat(refused.code()).isEqualTo(1);
      assertThat(refused.err().lines().toList()).hasSize(1);
      assertThat(refused.err()).startsWith("bucketdisk: volume " + id + " is in use: ephemeral inline volume of pod "
          + "default/restarting").contains("published to node node-a").contains("delete the pod")
          .contains("bucketdisk volume rm --force " + id).doesNotContain("Exception");
      assertThat(catalog.get(id)).as("still there").isPresent();
      assertThat(filesOf(id)).hasSizeGreaterThanOrEqualTo(2);

      // --force never overrides a live lease: the node's gateway came back and opened it again.
      try (var open = catalog.open(id, GATEWAY, false)) {
        var forced = run("rm", "--force", id);
        assertThat(forced.code()).isEqualTo(1);
        assertThat(forced.err()).contains("is in use").contains("gateway gw-node-a");
        assertThat(catalog.get(id).orElseThrow().publications()).as("publication kept").containsOnlyKeys("node-a");
        var back = ByteBuffer.allocate(1 << 20);
        assertThat(open.read(0, back)).isTrue();
        assertThat(back.array()).isEqualTo(chunk);
      }

      // The node is gone for good and nothing holds a lease: --force unpublishes and deletes.
      var forced = run("rm", "--force", id);
      assertThat(forced.code()).as(forced.err()).isZero();
      assertThat(forced.out()).contains("unpublished " + id + " from node node-a").contains("deleted " + id);
      assertThat(catalog.get(id)).isEmpty();
      assertThat(filesOf(id)).as("no object of the volume left").isEmpty();
    }
  }

  @Test
  void forceDoesNotUnpublishAPersistentVolumeNorGoWithSnapshots() throws Exception {
    assertThat(run("create", "pv1", "--size", "1Gi").code()).isZero();
    try (var catalog = catalog(CatalogOptions.defaults())) {
      catalog.publish("pv1", "node-a", false);
      var plain = run("rm", "pv1");
      assertThat(plain.code()).isEqualTo(1);
      assertThat(plain.err()).contains("still published to node(s) [node-a]");
      var forced = run("rm", "--force", "pv1");
      assertThat(forced.code()).isEqualTo(1);
      assertThat(forced.err().lines().toList()).hasSize(1);
      assertThat(forced.err()).contains("persistent volume published to node(s) node-a")
          .contains("--force is only for ephemeral inline volumes");
      assertThat(catalog.get("pv1").orElseThrow().publications()).containsOnlyKeys("node-a");
    }
    assertThat(run("rm", "--force", "--snapshot", "s").err().strip())
        .isEqualTo("bucketdisk: --force is for volumes; it does not go with --snapshot");
  }

  @Test
  void ephemeralFilterDoesNotGoWithSnapshots() {
    var bad = run("ls", "--ephemeral", "--snapshots");
    assertThat(bad.code()).isEqualTo(1);
    assertThat(bad.err().strip()).isEqualTo("bucketdisk: --ephemeral lists volumes; it does not go with --snapshots");
  }
}
