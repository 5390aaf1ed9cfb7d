package io.bucketdisk.app;

import io.bucketdisk.testing.QemuIoSession;
import java.time.Duration;
import io.bucketdisk.testing.ChildJvm;
import static io.bucketdisk.app.DevCommandIT.output;
import static io.bucketdisk.app.DevCommandIT.readUntil;
import static io.bucketdisk.app.DevCommandIT.start;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.object.ObjectInfo;
import io.bucketdisk.store.object.ObjectStore;
import io.bucketdisk.store.object.ObjectStores;
import io.bucketdisk.store.testing.S3Server;
import io.bucketdisk.testing.Tool;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One whole session of the real {@code bucketdisk} commands against each real S3 server (s3proxy, Ceph RGW), as an
 * operator would run it: {@code volume create}, {@code gateway}, qemu-io writes and FLUSHes over NBD, SIGKILL of the
 * gateway, a new gateway reads back exactly what was flushed, {@code volume snapshot} (through the gateway's control
 * socket), more writes, {@code volume create --from-snapshot} reads the snapshot's bytes, {@code volume rm} of clone,
 * snapshot and volume, and then the bucket prefix holds no object at all.
 */
@Timeout(300)
class GatewaySessionIT {

  @ParameterizedTest(name = "{0}", autoCloseArguments = false)
  @MethodSource("io.bucketdisk.store.testing.S3Server#all")
  void createWriteFlushKillReopenSnapshotCloneDelete(S3Server server) throws Exception {
    Tool.require("qemu-io");
    Tool.require("stdbuf");
    String url = server.storeUrl("session-" + System.nanoTime() + "/").toString();
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "bdsession");
    List<ChildJvm> started = new ArrayList<>();
    try {
      // a wrong secret: one line with the server's own code and the fix, never the secret
      ChildJvm bad = start("volume", "ls", "--store", url.replaceAll("secret-key=[^&]*", "secret-key=not-the-secret"));
      assertThat(bad.waitFor(Duration.ofSeconds(120))).isEqualTo(1);
      var errors = output(bad).lines().filter(l -> l.startsWith("bucketdisk:")).toList();
      assertThat(errors).hasSize(1);
      assertThat(errors.getFirst()).contains("HTTP 403 SignatureDoesNotMatch").contains("the secret key is wrong")
          .doesNotContain("not-the-secret");

      String created = cli("volume", "create", "v1", "--size", "64Mi", "--chunk-size", "1Mi", "--store", url);
      assertThat(created).contains("v1");

      ChildJvm gw = gateway(url, dir, started);
      String nbd = nbdAddress(gw);
      // the one start-up line about the server
      assertThat(output(gw).lines().filter(l -> l.contains("store s3://")).count()).isEqualTo(1);
      if (server.refusesStreamingUploads()) {
        assertThat(output(gw)).contains("server gaps: aws-chunked uploads refused (XAmzContentSHA256Mismatch)")
            .contains("If-Match compared without quotes -> ETags sent unquoted");
      }
      // A second client holds the volume open, so the writer leaving does not close (and flush) it; the writes go
      // without FUA (-t writeback), so only the FLUSH stores them before the SIGKILL, well inside the 3 s loss window.
      try (var holder = new QemuIoSession(nbd + "/v1")) {
        holder.command("read 60M 512", "read 512/512 bytes");
        long start = System.nanoTime();
        qemuIo(nbd + "/v1", "write -P 0xab 0 1M", "write -P 0xcd 3M 64k", "write -P 0x11 40M 8k", "flush");
        qemuIo(nbd + "/v1", "write -P 0x77 10M 4k"); // not flushed by this client: may or may not survive
        gw.kill(); // SIGKILL
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start))
            .as("ms from the writes to the SIGKILL (over 3000, the age bound rather than the FLUSH may have stored "
                + "them)").isLessThan(3000);
      }

      gw = gateway(url, dir, started);
      nbd = nbdAddress(gw);
      qemuIo(nbd + "/v1", "read -P 0xab 0 1M", "read -P 0xcd 3M 64k", "read -P 0x11 40M 8k", "read -P 0 20M 1M");

      String snap = cli("volume", "snapshot", "v1", "s1", "--store", url);
      assertThat(snap).contains("s1");
      qemuIo(nbd + "/v1", "write -P 0xee 0 1M", "flush");
      cli("volume", "create", "c1", "--from-snapshot", "s1", "--store", url);
      qemuIo(nbd + "/c1", "read -P 0xab 0 1M", "read -P 0xcd 3M 64k");
      qemuIo(nbd + "/v1", "read -P 0xee 0 1M", "read -P 0xcd 3M 64k");

      assertThat(gw.stop(Duration.ofSeconds(30))).as("SIGTERM: flush, release the leases; %s", output(gw)).isTrue();
      cli("volume", "rm", "c1", "--store", url);
      cli("volume", "rm", "--snapshot", "s1", "--store", url);
      cli("volume", "rm", "v1", "--store", url);
      try (ObjectStore bucket = ObjectStores.open(URI.create(url), StoreMetrics.NONE)) {
        assertThat(bucket.list("", null, 1000).objects()).extracting(ObjectInfo::key)
            .as("objects left in the bucket prefix on %s", server.name()).isEmpty();
      }
    } finally {
      GatewaySessionIT.closeAll(started, dir);
    }
  }

  static ChildJvm gateway(String url, Path dir, List<ChildJvm> started) throws Exception {
    ChildJvm p = start("gateway", "--store", url, "--listen", "127.0.0.1:0", "--cache-size", "128Mi",
        "--control", "unix://" + dir.resolve("control.sock"));
    started.add(p);
    return p;
  }

  static String nbdAddress(ChildJvm gateway) throws Exception {
    var lines = readUntil(gateway, "serving NBD on");
    return "nbd://" + lines.getLast().substring(lines.getLast().indexOf("serving NBD on ") + 15).trim();
  }

  static String cli(String... args) throws Exception {
    ChildJvm p = start(args);
    int exit = p.waitFor(Duration.ofSeconds(120));
    String out = output(p);
    assertThat(exit).as("bucketdisk %s: %s", args[0] + " " + args[1], out).isZero();
    return out;
  }

  static void qemuIo(String url, String... commands) throws Exception {
    // -t writeback: qemu-io's default (writethrough) sends every write with FUA
    var cmd = new ArrayList<>(List.of("qemu-io", "-f", "raw", "-t", "writeback"));
    for (String c : commands) {
      cmd.add("-c");
      cmd.add(c);
    }
    cmd.add(url);
    var r = Tool.run(120, cmd.toArray(String[]::new));
    assertThat(r.exit()).as("qemu-io %s: %s %s", List.of(commands), r.out(), r.err()).isZero();
    assertThat(r.out() + r.err()).as("qemu-io %s", List.of(commands))
        .doesNotContain("verification failed").doesNotContain("failed:");
  }

  /** Stops every child (SIGKILL if still running) and deletes {@code dir}. */
  static void closeAll(List<ChildJvm> started, Path dir) throws Exception {
    for (ChildJvm p : started) {
      p.close();
    }
    try (var walk = Files.walk(dir)) {
      for (Path f : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(f);
      }
    }
  }
}
