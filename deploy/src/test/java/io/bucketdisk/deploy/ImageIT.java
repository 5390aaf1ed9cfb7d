package io.bucketdisk.deploy;

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

  @Test
  void aGatewayInTheContainerServesQemuIoOnTheHostFromADirectoryStore() throws Exception {
    Tool.require("qemu-io");
    Path store = Files.createTempDirectory(Path.of("/tmp"), "bdimage");
    Files.setPosixFilePermissions(store, PosixFilePermissions.fromString("rwxrwxrwx")); // the image's user writes it
    String mount = store + ":/data";
    int port;
    try (var s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    String name = "bdimage-" + port;
    try {
      run(180, "--rm", "-v", mount, tag, "volume", "create", "vol1", "--size", "64Mi", "--store", "file:///data").ok();
      run(60, "-d", "--name", name, "--network", "host", "-v", mount, tag, "gateway", "--store", "file:///data",
          "--listen", "127.0.0.1:" + port, "--control", "unix:///tmp/control.sock").ok();
      String uri = "nbd://127.0.0.1:" + port + "/vol1";
      Tool.Result io = null;
      for (int i = 0; i < 120; i++) { // the JVM in the container takes a few seconds to listen
        io = Tool.run(60, "qemu-io", "-f", "raw", uri, "-c", "write -P 0x5a 1M 2M", "-c", "flush",
            "-c", "read -P 0x5a 1M 2M");
        if (io.exit() == 0) {
          break;
        }
        Thread.sleep(500);
      }
      assertThat(io.exit()).as("qemu-io against the containerized gateway\n" + io.out() + io.err()
          + "\ngateway log:\n" + podman(30, "logs", name).out()).isZero();
      assertThat(io.out()).doesNotContain("Pattern verification failed");
      try (Stream<Path> files = Files.walk(store.resolve("volumes/vol1"))) {
        assertThat(files.filter(Files::isRegularFile).filter(p -> {
          try {
            return Files.size(p) > 0;
          } catch (IOException e) {
            return false;
          }
        }).count()).as("objects of vol1 in the directory after the FLUSH, the gateway still running").isPositive();
      }
      // A second client reads the bytes back through the same gateway.
      Tool.run(60, "qemu-io", "-f", "raw", "-r", uri, "-c", "read -P 0x5a 1M 2M", "-c", "read -P 0 0 1M").ok();
    } finally {
      podman(60, "rm", "-f", name);
      Tool.run(60, "rm", "-rf", store.toString());
    }
  }
}
