package io.bucketdisk.node;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Filesystem and mount operations, done by the standard tools ({@code blkid}, {@code mkfs.ext4}/{@code mkfs.xfs},
 * {@code mount}, {@code umount}, {@code resize2fs}, {@code xfs_growfs}) run as processes with a time bound.
 * A failing tool raises {@link ToolException} with its output. Mount state is read from
 * {@code /proc/self/mountinfo}. Thread-safe (stateless).
 */
final class Mounter {
  private static final Logger log = LoggerFactory.getLogger(Mounter.class);
  static final List<String> FILESYSTEMS = List.of("ext4", "xfs");
  private static final long TOOL_TIMEOUT_SECONDS = 600;

  /** A tool exited non-zero or timed out. */
  static final class ToolException extends IOException {
    private static final long serialVersionUID = 1L;
    final int exitCode;

    ToolException(String message, int exitCode) {
      super(message);
      this.exitCode = exitCode;
    }
  }

  record Output(int exitCode, String text) {}

  Output run(List<String> cmd) throws IOException {
    var p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
    String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    try {
      if (!p.waitFor(TOOL_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new ToolException(String.join(" ", cmd) + " timed out", -1);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new ToolException(String.join(" ", cmd) + " interrupted", -1);
    }
    return new Output(p.exitValue(), text);
  }

  private String check(List<String> cmd) throws IOException {
    var out = run(cmd);
    if (out.exitCode() != 0) {
      throw new ToolException(String.join(" ", cmd) + " failed (exit " + out.exitCode() + "): " + out.text(), out.exitCode());
    }
    return out.text();
  }

  /** The filesystem type on {@code device}, or empty when blkid finds none (exit 2: a blank device). */
  Optional<String> filesystem(String device) throws IOException {
    var out = run(List.of("blkid", "-p", "-s", "TYPE", "-o", "value", device));
    if (out.exitCode() == 2) {
      return Optional.empty();
    }
    if (out.exitCode() != 0) {
      throw new ToolException("blkid " + device + " failed (exit " + out.exitCode() + "): " + out.text(), out.exitCode());
    }
    return out.text().isBlank() ? Optional.empty() : Optional.of(out.text().strip());
  }

  void mkfs(String device, String fsType) throws IOException {
    log.info("creating {} on {}", fsType, device);
    switch (fsType) {
      case "ext4" -> check(List.of("mkfs.ext4", "-q", "-F", "-E", "nodiscard,lazy_itable_init=1,lazy_journal_init=1", device));
      case "xfs" -> check(List.of("mkfs.xfs", "-q", "-K", device));
      default -> throw new IllegalArgumentException("unsupported filesystem " + fsType);
    }
  }

  void mount(String source, String target, String fsType, List<String> options) throws IOException {
    var cmd = new ArrayList<>(List.of("mount", "-t", fsType));
    if (!options.isEmpty()) {
      cmd.add("-o");
      cmd.add(String.join(",", options));
    }
    cmd.add(source);
    cmd.add(target);
    check(cmd);
  }

  void bindMount(String source, String target, boolean readOnly) throws IOException {
    check(List.of("mount", "--bind", source, target));
    if (readOnly) {
      check(List.of("mount", "-o", "remount,bind,ro", target));
    }
  }

  void unmount(String target) throws IOException {
    check(List.of("umount", target));
  }

  /** Whether {@code path} is a mount point (the mount point field of /proc/self/mountinfo). */
  boolean isMountPoint(String path) throws IOException {
    String want = Path.of(path).toAbsolutePath().normalize().toString();
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
      String[] f = line.split(" ");
      if (f.length > 4 && unescape(f[4]).equals(want)) {
        return true;
      }
    }
    return false;
  }

  private static String unescape(String s) {
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
  }

  /** Grows the filesystem to the device size, online. */
  void resize(String device, String mountPoint, String fsType) throws IOException {
    switch (fsType) {
      case "ext4" -> check(List.of("resize2fs", device));
      case "xfs" -> check(List.of("xfs_growfs", mountPoint));
      default -> throw new IllegalArgumentException("cannot grow filesystem " + fsType);
    }
  }

  /** {@code stat -f}: block size, total, free-for-users blocks, total and free inodes of the filesystem at {@code path}. */
  long[] statfs(String path) throws IOException {
    String[] f = check(List.of("stat", "-f", "-c", "%S %b %a %f %c %d", path)).split("\\s+");
    long[] v = new long[f.length];
    for (int i = 0; i < f.length; i++) {
      v[i] = Long.parseLong(f[i]);
    }
    return v;
  }
}
