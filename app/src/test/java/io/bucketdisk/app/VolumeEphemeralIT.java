package io.bucketdisk.app;

import io.bucketdisk.testing.ChildJvm;
import io.bucketdisk.testing.Tool;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.bucketdisk.proto.gateway.CreateEphemeralVolumeRequest;
import io.bucketdisk.proto.gateway.DeleteEphemeralVolumeRequest;
import io.bucketdisk.proto.gateway.GatewayControlGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * {@code bucketdisk volume} against an ephemeral inline volume made the real way: a {@code bucketdisk gateway}
 * process on a directory store creates it over its control socket (CreateEphemeralVolume, as the node plugin does)
 * and qemu-io holds it open over NBD. While the client is connected, {@code ls} shows the gateway under OPEN ON and
 * {@code rm} refuses in one line, deleting nothing; once the client is gone the gateway releases the lease and
 * {@code rm} still refuses, as the gateway recorded the volume published to its node, until the node's
 * DeleteEphemeralVolume removes publication and objects. {@code rm --force} deletes one of a node gone for good.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VolumeEphemeralIT {
  static final String HANDLE = "csi-" + "3c".repeat(32); // kubelet's form: csi-<64 hex>
  static final String NODE = "node-a";

  Path dir;
  Path store;
  Path log;
  ChildJvm gateway;
  Process client;

  @BeforeEach
  void startGateway() throws Exception {
    Tool.require("qemu-io");
    dir = Files.createTempDirectory(Path.of("/tmp"), "bdvol"); // Unix socket paths must stay short
    store = Files.createDirectories(dir.resolve("store"));
    log = dir.resolve("gateway.log");
    gateway = ChildJvm.start(log, java.util.List.of(), java.util.Map.of("NODE_NAME", NODE), // the id in leases
        "io.bucketdisk.app.Main", "gateway", "--store", "file://" + store, "--listen",
        "unix://" + dir.resolve("nbd.sock"), "--control", "unix://" + dir.resolve("control.sock"),
        "--cache-size", "256Mi");
    gateway.awaitLine("serving NBD on", java.time.Duration.ofSeconds(60));
  }

  @AfterEach
  void stop() throws Exception {
    if (gateway != null) {
      gateway.stop(java.time.Duration.ofSeconds(20));
    }
    for (Process p : new Process[] {client}) {
      if (p != null) {
        p.destroy();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      }
    }
    if (dir != null) {
      try (var walk = Files.walk(dir)) {
        for (Path f : walk.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(f);
        }
      }
    }
  }

  private record Result(int code, String out, String err) {}

  private Result volume(String... args) {
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
    var all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--store", "file://" + store));
    return new Result(cli.execute(all.toArray(String[]::new)), out.toString(), err.toString());
  }

  /** CreateEphemeralVolume as the node plugin of {@code node} sends it; the volume id. */
  private String createEphemeral(String handle, String node) throws Exception {
    return control(stub -> stub.createEphemeralVolume(CreateEphemeralVolumeRequest.newBuilder().setName(handle)
        .setSizeBytes(64L << 20).setChunkSize(1 << 20).setNodeId(node).putParameters(VolumeCommand.POD_NAME, "inline")
        .putParameters(VolumeCommand.POD_NAMESPACE, "default").putParameters(VolumeCommand.POD_UID, "u-1").build())
        .getVolumeId());
  }

  private <T> T control(Function<GatewayControlGrpc.GatewayControlBlockingStub, T> call) throws Exception {
    var channel = Grpc.newChannelBuilder("unix://" + dir.resolve("control.sock"), InsecureChannelCredentials.create())
        .build();
    try {
      return call.apply(GatewayControlGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS));
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /**
   * Sends qemu-io one command on its stdin and waits (bounded) until it is done: its next prompt is printed and
   * {@code expect} is in the output. One at a time, because qemu-io reads only one line per wake-up from a pipe.
   */
  private void qemuIo(OutputStream stdin, Path out, String command, String expect) throws Exception {
    long prompts = prompts(out);
    stdin.write((command + "\n").getBytes(StandardCharsets.UTF_8));
    stdin.flush();
    for (int i = 0; i < 300 && (prompts(out) <= prompts || !Files.readString(out).contains(expect)); i++) {
      assertThat(client.isAlive()).as("qemu-io exited: %s", Files.readString(out)).isTrue();
      Thread.sleep(100);
    }
    assertThat(prompts(out)).as("qemu-io finished: " + command).isGreaterThan(prompts);
    assertThat(Files.readString(out)).as("qemu-io: " + command).contains(expect);
  }

  private static long prompts(Path out) throws IOException {
    return Files.readString(out).split("qemu-io> ", -1).length - 1;
  }

  private List<Path> filesOf(String id) throws IOException {
    try (var files = Files.walk(store)) {
      return files.filter(Files::isRegularFile).filter(f -> store.relativize(f).toString().contains(id)).toList();
    }
  }

  @Test
  void rmRefusesAnInlineVolumeWhileItIsOpenOnTheGatewayAndRemovesItOnceClosed() throws Exception {
    String id = createEphemeral(HANDLE, NODE);
    assertThat(id).as("derived from kubelet's handle").startsWith("csi-").isNotEqualTo(HANDLE);

    Path qemuOut = dir.resolve("qemu-io.log");
    client = new ProcessBuilder("qemu-io", "-f", "raw", "nbd+unix:///" + id + "?socket=" + dir.resolve("nbd.sock"))
        .redirectErrorStream(true).redirectOutput(qemuOut.toFile()).start();
    var stdin = client.getOutputStream();
    for (int i = 0; i < 100 && prompts(qemuOut) == 0 && client.isAlive(); i++) {
      Thread.sleep(100);
    }
    assertThat(prompts(qemuOut)).as("qemu-io connected: %s", Files.readString(qemuOut)).isEqualTo(1);
    qemuIo(stdin, qemuOut, "write -P 0x5a 1M 2M", "wrote 2097152/2097152");
    qemuIo(stdin, qemuOut, "flush", "");
    assertThat(filesOf(id)).as("manifest and two 1 MiB chunks, stored by the FLUSH").hasSize(3);

    var ls = volume("ls", "--ephemeral");
    assertThat(ls.code()).as(ls.err()).isZero();
    assertThat(ls.out().lines().filter(l -> l.startsWith(id + " ")).findFirst().orElseThrow())
        .contains("ephemeral").contains(NODE).contains("default/inline (uid u-1)");
    assertThat(volume("inspect", id).out()).contains("pod-side name: " + HANDLE).contains(": open, in use");

    var rm = volume("rm", id);
    assertThat(rm.code()).isEqualTo(1);
    assertThat(rm.err().lines().toList()).hasSize(1);
    assertThat(rm.err()).startsWith("bucketdisk: volume " + id + " is in use: ephemeral inline volume of pod "
        + "default/inline (uid u-1), open on gateway " + NODE);
    assertThat(filesOf(id)).as("nothing deleted").hasSize(3);
    qemuIo(stdin, qemuOut, "read -P 0x5a 1M 2M", "read 2097152/2097152");
    stdin.write("quit\n".getBytes(StandardCharsets.UTF_8));
    stdin.flush();
    assertThat(client.waitFor(30, TimeUnit.SECONDS)).as("qemu-io quit").isTrue();
    assertThat(Files.readString(qemuOut)).as("data intact after the refused rm")
        .doesNotContain("Pattern verification failed");
    // the gateway closes the volume when its last connection ends, releasing the lease
    boolean released = false;
    for (int i = 0; i < 100 && !released; i++) {
      var json = new ObjectMapper().readTree(volume("ls", "--ephemeral", "--json").out());
      released = json.size() == 1 && !json.get(0).get("inUse").asBoolean();
      if (!released) {
        Thread.sleep(200);
      }
    }
    assertThat(released).as("lease released within 20 s after the client left").isTrue();
    // No lease now (as while the node's gateway restarts), but the node still has it published: rm refuses.
    var unleased = volume("rm", id);
    assertThat(unleased.code()).isEqualTo(1);
    assertThat(unleased.err().lines().toList()).hasSize(1);
    assertThat(unleased.err()).startsWith("bucketdisk: volume " + id + " is in use: ephemeral inline volume of pod "
        + "default/inline (uid u-1), published to node " + NODE).contains("rm --force " + id);
    assertThat(filesOf(id)).as("nothing deleted").hasSize(3);
    // The node unpublishes its own volume (NodeUnpublishVolume): publication and volume are gone.
    assertThat(control(stub -> stub.deleteEphemeralVolume(DeleteEphemeralVolumeRequest.newBuilder().setVolumeId(id)
        .build())).getExisted()).isTrue();
    assertThat(filesOf(id)).as("no object of the volume left").isEmpty();
    assertThat(new ObjectMapper().readTree(volume("ls", "--json").out()).size()).isZero();
    assertThat(volume("rm", id).code()).as("rm of a deleted volume is OK").isZero();
  }

  @Test
  void rmForceRemovesAnUnleasedInlineVolumeOfANodeGoneForGood() throws Exception {
    String id = createEphemeral("csi-" + "9d".repeat(32), "node-gone");
    var json = new ObjectMapper().readTree(volume("inspect", id, "--json").out());
    assertThat(json.get("publications").has("node-gone")).as(json.toString()).isTrue();
    assertThat(volume("rm", id).err()).contains("published to node node-gone");
    assertThat(filesOf(id)).isNotEmpty();
    var forced = volume("rm", "--force", id);
    assertThat(forced.code()).as(forced.err()).isZero();
    assertThat(forced.out()).contains("unpublished " + id + " from node node-gone").contains("deleted " + id);
    assertThat(filesOf(id)).as("no object of the volume left").isEmpty();
  }
}
