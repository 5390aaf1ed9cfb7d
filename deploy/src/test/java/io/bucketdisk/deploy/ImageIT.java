package io.bucketdisk.deploy;

import io.bucketdisk.testing.QemuIoSession;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.testing.Requirement;
import io.bucketdisk.testing.Tool;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The real deploy/Dockerfile, built by scripts/image.sh with buildah (local stand-ins for its base images, no
 * registry), then run with podman: its command line, a gateway in a container serving qemu-io on the host from a
 * directory store, the node plugin's tools, and who it runs as. Needs podman, buildah, debootstrap and runc, which
 * scripts/setup.sh installs; elsewhere it skips with the reason (and fails under scripts/test.sh).
 */
@Timeout(value = 40, unit = java.util.concurrent.TimeUnit.MINUTES)
class ImageIT {
  static final Path ROOT = Path.of("").toAbsolutePath().getParent();
  static String tag;
  static List<String> podman;
  static List<String> run;

  @BeforeAll
  static void build() throws Exception {
    for (String tool : List.of("podman", "buildah", "debootstrap", "runc")) {
      Tool.require(tool);
    }
    Requirement.require(Files.isExecutable(Path.of("/usr/lib/jvm/temurin-25-jdk-amd64/bin/jlink")),
        "the image's stand-in JDK base is made from /usr/lib/jvm/temurin-25-jdk-amd64, which is not here");
    var env = Tool.run(10, "bash", "-c", "cd " + ROOT + " && . scripts/image-env.sh && bd_image_tag"
        + " && echo \"${BD_PODMAN_OPTS[*]}\" && echo \"${BD_RUN_OPTS[*]}\"").ok().out().lines().toList();
    tag = env.get(0);
    podman = new ArrayList<>(List.of("podman"));
    podman.addAll(Arrays.asList(env.get(1).split(" ")));
    run = new ArrayList<>(podman);
    run.add("run");
    run.addAll(Arrays.asList(env.get(2).split(" ")));
    var built = Tool.run(1800, "bash", ROOT.resolve("scripts/image.sh").toString());
    assertThat(built.exit()).as("scripts/image.sh\n" + tail(built.out() + built.err())).isZero();
    assertThat(built.out()).contains("image: " + tag + " built");
  }

  static String tail(String text) {
    var lines = text.lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
  }

  static Tool.Result podman(int timeout, String... args) throws Exception {
    var cmd = new ArrayList<>(podman);
    cmd.addAll(List.of(args));
    return Tool.run(timeout, cmd.toArray(String[]::new));
  }

  static Tool.Result run(int timeout, String... args) throws Exception {
    var cmd = new ArrayList<>(run);
    cmd.addAll(List.of(args));
    return Tool.run(timeout, cmd.toArray(String[]::new));
  }

  @Test
  void helpRunsAsTheNonRootUser() throws Exception {
    assertThat(run(120, "--rm", tag).ok().out()).contains("Usage: bucketdisk").contains("gateway", "controller", "node");
    assertThat(podman(30, "image", "inspect", "--format", "{{.Config.User}}", tag).ok().out().strip())
        .isEqualTo("65532:65532");
    assertThat(run(120, "--rm", "--entrypoint", "id", tag).ok().out()).startsWith("uid=65532");
  }

  @Test
  void theNodePluginsToolsAreInTheImage() throws Exception {
    String tools = "mkfs.ext4 mkfs.xfs resize2fs xfs_growfs blkid mount umount blockdev modprobe";
    var found = run(120, "--rm", "--entrypoint", "sh", tag, "-c", "for t in " + tools
        + "; do command -v $t || echo MISSING $t; done").ok().out();
    assertThat(found).doesNotContain("MISSING");
    assertThat(found.lines().count()).isEqualTo(tools.split(" ").length);
  }

  /** Present is not enough (a library left out shows only when a tool runs): each works on a file, as root. */
  @Test
  void theNodePluginsToolsRun() throws Exception {
    var script = String.join(" && ", "cd /tmp",
        "truncate -s 64M e", "mkfs.ext4 -q -F e", "resize2fs e 96M", "blkid -o value -s TYPE e",
        "truncate -s 320M x", "mkfs.xfs -q x", "blkid -o value -s TYPE x",
        "xfs_growfs -V", "mount --version", "umount --version");
    var out = run(300, "--rm", "--user", "0", "--entrypoint", "sh", tag, "-c", script).ok().out();
    assertThat(out.lines().toList()).contains("ext4", "xfs");
    assertThat(out).contains("xfs_growfs version", "mount from util-linux", "umount from util-linux");
  }

  /**
   * A gateway in the container (the image's non-root user) on a directory store mounted from the host, qemu-io on
   * the host: it overwrites part of a stored chunk and FLUSHes, then, while a second client keeps the volume open,
   * the container is killed with SIGKILL within the gateway's 3 s loss window of the write. A new container on the
   * same directory reads the new bytes and the chunk's old ones around them: the FLUSH, and nothing after it (no
   * close, no background upload, no upload of a completed chunk), stored them in the directory.
   */
  @Test
  @Timeout(value = 5, unit = java.util.concurrent.TimeUnit.MINUTES)
  void aGatewayInTheContainerServesQemuIoOnTheHostFromADirectoryStore() throws Exception {
    Tool.require("qemu-io");
    Tool.require("stdbuf");
    Path store = Files.createTempDirectory(Path.of("/tmp"), "bdimage");
    Files.setPosixFilePermissions(store, PosixFilePermissions.fromString("rwxrwxrwx")); // the image's user writes it
    String mount = store + ":/data";
    // the gateway's run directory, as the DaemonSet's hostPath /run/bucketdisk: its sockets and gateway.lock
    Path runDir = Files.createTempDirectory(Path.of("/tmp"), "bdimage-run");
    Files.setPosixFilePermissions(runDir, PosixFilePermissions.fromString("rwxrwxrwx"));
    String runMount = runDir + ":/run/bucketdisk";
    var names = new ArrayList<String>();
    try {
      run(180, "--rm", "-v", mount, tag, "volume", "create", "vol1", "--size", "64Mi", "--store", "file:///data").ok();
      int port = gateway(List.of(mount, runMount), names);
      assertThat(podman(30, "exec", names.getLast(), "sh", "-c", "tr '\\0' ' ' </proc/1/cmdline").ok().out())
          .as("the launcher sizes the heap from --cache-size 128Mi").contains(" -Xmx208m ");
      assertThat(runDir.resolve("gateway.lock")).exists();
      String uri = "nbd://127.0.0.1:" + port + "/vol1";
      // chunk 0 stored whole; the volume closes when this client leaves, so its cache starts empty again
      Tool.run(60, "qemu-io", "-f", "raw", uri, "-c", "write -P 0x11 0 4M", "-c", "flush").ok();
      // a second client holds the volume open (a volume whose last client leaves flushes itself); it reads another
      // chunk, so chunk 0 is not loaded and the partial write below leaves it incomplete: only a FLUSH uploads it
      try (var holder = new QemuIoSession(uri)) {
        holder.command("read 32M 512", "read 512/512 bytes");
        long start = System.nanoTime();
        // -t writeback: qemu-io's default (writethrough) sends every write with FUA, which would store it at once
        var io = Tool.run(60, "qemu-io", "-f", "raw", "-t", "writeback", uri, "-c", "write -P 0x5a 1M 2M",
            "-c", "flush").ok();
        assertThat(io.out() + io.err()).doesNotContain("failed");
        podman(60, "kill", "--signal", "KILL", names.getLast()).ok();
        long killedAfter = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(killedAfter).as("ms from the write to the kill (over 3000, a background upload rather than the "
            + "FLUSH may have stored the data; rerun on a quieter machine)").isLessThan(3000);
      }
      try (Stream<Path> files = Files.walk(store.resolve("volumes/vol1"))) {
        assertThat(files.filter(Files::isRegularFile).filter(p -> {
          try {
            return Files.size(p) > 0;
          } catch (IOException e) {
            return false;
          }
        }).count()).as("objects of vol1 in the directory").isPositive();
      }
      int again = gateway(List.of(mount, runMount), names);
      var back = Tool.run(60, "qemu-io", "-f", "raw", "-r", "nbd://127.0.0.1:" + again + "/vol1",
          "-c", "read -P 0x5a 1M 2M", "-c", "read -P 0x11 0 1M", "-c", "read -P 0x11 3M 1M", "-c", "read -P 0 4M 1M")
          .ok();
      assertThat(back.out() + back.err()).as("a new gateway container reads what the killed one flushed")
          .doesNotContain("Pattern verification failed", "failed");
    } finally {
      for (var name : names) {
        podman(60, "rm", "-f", name);
      }
      Tool.run(60, "rm", "-rf", store.toString(), runDir.toString());
    }
  }

  /**
   * Starts a gateway container with {@code mounts} (podman volumes) on a free loopback port (host network) and
   * returns the port once it accepts. Every gateway of the test has the same run directory (as on a
   * node), so a new one holds the killed one's gateway.lock and takes over at once the lease it left.
   */
  static int gateway(List<String> mounts, List<String> names) throws Exception {
    int port;
    try (var s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    String name = "bdimage-" + port;
    names.add(name);
    var args = new ArrayList<>(List.of("-d", "--name", name, "--network", "host"));
    for (String m : mounts) {
      args.addAll(List.of("-v", m));
    }
    args.addAll(List.of("-e", "NODE_NAME=imageit", tag, "gateway", "--store", "file:///data", "--listen",
        "127.0.0.1:" + port, "--control", "unix:///run/bucketdisk/control.sock", "--cache-size", "128Mi"));
    run(60, args.toArray(String[]::new)).ok();
    for (int i = 0; i < 240; i++) { // the JVM in the container takes a few seconds to listen
      try (var socket = new java.net.Socket()) {
        socket.connect(new java.net.InetSocketAddress("127.0.0.1", port), 1000);
        return port;
      } catch (IOException notYet) {
        Thread.sleep(250);
      }
    }
    throw new AssertionError("gateway container " + name + " does not listen on " + port + "; its log:\n"
        + podman(30, "logs", name).out() + podman(30, "logs", name).err());
  }
}
