package io.bucketdisk.app;

import static io.bucketdisk.app.GatewaySessionIT.cli;
import static io.bucketdisk.app.GatewaySessionIT.nbdAddress;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.testing.ChildJvm;
import io.bucketdisk.testing.QemuIoSession;
import io.bucketdisk.testing.Tool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The lease owner is one gateway process, not a node name. Real {@code bucketdisk gateway} processes on a directory
 * store, all with {@code NODE_NAME=node-x}: a second live process cannot open a volume the first holds (its NBD client
 * is refused, the data is untouched), a second process on the first one's run directory is refused at start, and once
 * the first is SIGKILLed a new process on its run directory takes its volumes over at once (well inside the 30 s
 * lease), fencing the dead one with a new epoch.
 */
@Timeout(240)
class GatewayInstanceIT {

  @Test
  void aSecondProcessWithTheSameNodeNameCannotOpenAHeldVolumeButASuccessorTakesOverAtOnce() throws Exception {
    Tool.require("qemu-io");
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "bdinstance");
    String url = dir.resolve("store").toUri().toString();
    List<ChildJvm> started = new ArrayList<>();
    try {
      cli("volume", "create", "v1", "--size", "16Mi", "--chunk-size", "1Mi", "--store", url);
      ChildJvm first = gateway(url, dir.resolve("run-a"), started);
      String firstNbd = nbdAddress(first);
      try (var holder = new QemuIoSession(firstNbd + "/v1")) {
        // qemu-io's default cache mode (writethrough) sends the write with FUA: stored when it replies
        holder.command("write -P 0x5a 0 64k", "wrote 65536/65536 bytes");

        ChildJvm second = gateway(url, dir.resolve("run-b"), started);
        var refused = Tool.run(60, "qemu-io", "-f", "raw", "-c", "read 0 4k", nbdAddress(second) + "/v1");
        assertThat(refused.exit()).as("the second process opened a volume the first holds: %s", refused.out())
            .isNotZero();
        second.awaitLine(l -> l.contains("is held by gateway node-x#") && l.contains("one gateway per node"),
            Duration.ofSeconds(30));
        holder.command("read -P 0x5a 0 64k", "read 65536/65536 bytes");

        ChildJvm sameDir = gateway(url, dir.resolve("run-a"), started);
        assertThat(sameDir.waitFor(Duration.ofSeconds(60))).as(sameDir.output()).isEqualTo(1);
        assertThat(sameDir.output()).contains("gateway.lock is held by a running gateway (node-x#");

        first.kill(); // SIGKILL, lease still live for up to 30 s
      }
      long killed = System.nanoTime();
      ChildJvm successor = gateway(url, dir.resolve("run-a"), started);
      String nbd = nbdAddress(successor);
      GatewaySessionIT.qemuIo(nbd + "/v1", "read -P 0x5a 0 64k");
      long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - killed);
      assertThat(seconds).as("s from the SIGKILL to the successor's read (the lease runs 30 s)").isLessThan(20);
      successor.awaitLine(l -> l.contains("takes over the lease (at once: that process is gone)"),
          Duration.ofSeconds(10));
      assertThat(successor.stop(Duration.ofSeconds(30))).isTrue();
    } finally {
      GatewaySessionIT.closeAll(started, dir);
    }
  }

  private static ChildJvm gateway(String url, Path runDir, List<ChildJvm> started) throws Exception {
    Path log = Files.createTempFile("bdinstance", ".log");
    log.toFile().deleteOnExit();
    ChildJvm p = ChildJvm.start(log, List.of(), Map.of("NODE_NAME", "node-x"), "io.bucketdisk.app.Main", "gateway",
        "--store", url, "--listen", "127.0.0.1:0", "--cache-size", "128Mi",
        "--control", "unix://" + runDir.resolve("control.sock"));
    started.add(p);
    return p;
  }
}
