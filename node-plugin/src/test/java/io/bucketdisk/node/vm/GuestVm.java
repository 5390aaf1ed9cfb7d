package io.bucketdisk.node.vm;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Debian kernel booted under QEMU TCG (never KVM: it hangs on these machines) with the host's root shared
 * read-only over 9p. {@code /init} (busybox) loads the kernel modules asked for (nbd, e1000, virtio/9p, ext4,
 * xfs and their dependencies, resolved with {@code modinfo}), configures 10.0.2.15 with the host at 10.0.2.2,
 * mounts the host root at {@code /host} with fresh proc, sys, dev and tmpfs {@code /tmp} and {@code /run}, and
 * starts a shell agent ({@code socat} in the chroot) on guest port {@value #AGENT_PORT}. {@link #exec} runs a
 * script there as root with a time bound. Extra guest ports can be forwarded to host loopback ports.
 *
 * <p>Everything is bounded: boot waits for a console marker, every exec has a timeout, and {@link #close()}
 * kills QEMU if it did not power off. The console goes to {@code <workDir>/console.log}. Not thread-safe
 * except {@link #exec}, which opens a connection per call.
 */
public final class GuestVm implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GuestVm.class);
  public static final int AGENT_PORT = 7000;
  public static final String HOST_FROM_GUEST = "10.0.2.2";
  private static final String READY = "BUCKETDISK-GUEST-READY";
  private static final List<String> MODULES = List.of("nbd", "e1000", "virtio_pci", "9pnet_virtio", "9p",
      "crc32c_generic", "ext4", "xfs"); // crc32c before its users: nothing autoloads it in the initramfs
  private static final AtomicInteger EXEC_SEQ = new AtomicInteger();
  private static final java.util.regex.Pattern RC_LINE = java.util.regex.Pattern.compile("__RC=\\d+\\n");

  private final Process qemu;
  private final Path workDir;
  private final Map<Integer, Integer> forwards;
  private final StringBuffer console = new StringBuffer();

  private GuestVm(Process qemu, Path workDir, Map<Integer, Integer> forwards) {
    this.qemu = qemu;
    this.workDir = workDir;
    this.forwards = forwards;
  }

  /** The repository root: the nearest ancestor of the working directory holding {@code mvnw}. */
  public static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.exists(p.resolve("mvnw"))) {
      p = p.getParent();
    }
    return p == null ? Path.of("").toAbsolutePath() : p;
  }

  /** Why a VM cannot be booted here, or empty when it can. Tests turn this into a JUnit assumption. */
  public static Optional<String> unavailableReason() {
    Path kernel = repoRoot().resolve(".cache/kernel");
    if (!Files.exists(kernel.resolve("vmlinuz")) || !Files.exists(kernel.resolve("version"))) {
      return Optional.of("no Debian kernel in " + kernel + " (run scripts/setup.sh)");
    }
    for (String tool : List.of("qemu-system-x86_64", "busybox", "cpio", "modinfo", "socat")) {
      if (which(tool).isEmpty()) {
        return Optional.of(tool + " not installed (run scripts/setup.sh)");
      }
    }
    Path busybox = which("busybox").orElseThrow();
    try (var in = Files.newInputStream(busybox)) {
      // A dynamically linked ELF names its loader (PT_INTERP) near the start of the file.
      String head = new String(in.readNBytes(8192), StandardCharsets.ISO_8859_1);
      if (head.contains("/lib64/ld-linux") || head.contains("/lib/ld-linux")) {
        return Optional.of(busybox + " is dynamically linked (install busybox-static)");
      }
    } catch (IOException e) {
      return Optional.of("cannot read " + busybox + ": " + e.getMessage());
    }
    return Optional.empty();
  }

  static Optional<Path> which(String tool) {
    return io.bucketdisk.testing.Tool.find(tool);
  }


  /**
   * Boots a guest. {@code guestPorts} are forwarded from free host loopback ports ({@link #hostPort}); the
   * agent port is always forwarded. Waits up to {@code bootTimeout} for the agent to answer.
   */
  public static GuestVm boot(Path workDir, int memoryMb, List<Integer> guestPorts, Duration bootTimeout)
      throws IOException, InterruptedException {
    Files.createDirectories(workDir);
    Path kernelDir = repoRoot().resolve(".cache/kernel");
    String version = Files.readString(kernelDir.resolve("version")).strip();
    Path initrd = buildInitramfs(workDir, kernelDir.resolve("root/lib/modules").resolve(version));
    var forwards = new LinkedHashMap<Integer, Integer>();
    var ports = new LinkedHashSet<Integer>(guestPorts);
    ports.add(AGENT_PORT);
    var net = new StringBuilder("user,id=n0");
    for (int gp : ports) {
      int hp = freePort();
      forwards.put(gp, hp);
      net.append(",hostfwd=tcp:127.0.0.1:").append(hp).append("-:").append(gp);
    }
    var cmd = List.of("qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", Integer.toString(memoryMb),
        "-kernel", kernelDir.resolve("vmlinuz").toString(), "-initrd", initrd.toString(),
        "-append", "console=ttyS0 quiet panic=-1 rdinit=/init",
        "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
        "-netdev", net.toString(), "-device", "e1000,netdev=n0",
        "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap");
    log.info("booting guest: {}", String.join(" ", cmd));
    var pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE);
    var vm = new GuestVm(pb.start(), workDir, forwards);
    vm.pumpConsole();
    vm.awaitAgent(bootTimeout);
    return vm;
  }

  private void pumpConsole() {
    Thread.ofPlatform().daemon().name("guest-console").start(() -> {
      try (InputStream in = qemu.getInputStream(); var out = Files.newOutputStream(workDir.resolve("console.log"))) {
        byte[] buf = new byte[8192];
        int n;
        while ((n = in.read(buf)) > 0) {
          out.write(buf, 0, n);
          out.flush();
          console.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        }
      } catch (IOException e) {
        log.debug("console closed: {}", e.toString());
      }
    });
  }

  private void awaitAgent(Duration timeout) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!qemu.isAlive()) {
        throw new IOException("QEMU exited during boot (code " + qemu.exitValue() + "); console:\n" + consoleTail(4000));
      }
      if (console.indexOf(READY) >= 0) {
        try {
          var r = exec("echo agent-ok", Duration.ofSeconds(20));
          if (r.output().contains("agent-ok")) {
            log.info("guest ready");
            return;
          }
        } catch (IOException e) {
          log.debug("agent not ready: {}", e.toString());
        }
      }
      Thread.sleep(250);
    }
    close();
    throw new IOException("guest did not become ready within " + timeout + "; console:\n" + consoleTail(4000));
  }

  /** The result of one {@link #exec}: the exit status and stdout+stderr interleaved. */
  public record Result(int exitCode, String output) {
    public Result orThrow(String what) {
      if (exitCode != 0) {
        throw new AssertionError(what + " failed in the guest (exit " + exitCode + "):\n" + output);
      }
      return this;
    }
  }

  /**
   * Runs {@code script} with {@code sh} as root inside the chroot (stdin /dev/null) and waits up to
   * {@code timeout}. Background jobs must redirect all three standard streams or the call will wait for them.
   */
  public Result exec(String script, Duration timeout) throws IOException {
    int id = EXEC_SEQ.incrementAndGet();
    String b64 = Base64.getEncoder().encodeToString(script.getBytes(StandardCharsets.UTF_8));
    String line = "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; echo " + b64
        + " | base64 -d > /tmp/.exec-" + id + ".sh; sh /tmp/.exec-" + id
        + ".sh </dev/null 2>&1; echo \"__RC=$?\"; exit\n";
    try (var s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", hostPort(AGENT_PORT)), 5000);
      s.setSoTimeout((int) Math.max(1, timeout.toMillis()));
      s.getOutputStream().write(line.getBytes(StandardCharsets.UTF_8));
      s.getOutputStream().flush();
      var out = new ByteArrayOutputStream();
      long deadline = System.nanoTime() + timeout.toNanos();
      byte[] buf = new byte[8192];
      try {
        int n;
        // Stop at the exit-status line: a background job that kept the connection open must not hold us.
        while (!RC_LINE.matcher(out.toString(StandardCharsets.UTF_8)).find() && (n = s.getInputStream().read(buf)) > 0) {
          out.write(buf, 0, n);
          if (System.nanoTime() > deadline) {
            throw new java.net.SocketTimeoutException();
          }
        }
      } catch (java.net.SocketTimeoutException e) {
        throw new IOException("guest command timed out after " + timeout + ": " + script + "\noutput so far:\n" + out);
      }
      String text = out.toString(StandardCharsets.UTF_8);
      int rc = text.lastIndexOf("__RC=");
      if (rc < 0) {
        throw new IOException("guest agent closed without an exit status: " + script + "\noutput:\n" + text);
      }
      int code = Integer.parseInt(text.substring(rc + 5).strip().split("\\s+")[0]);
      return new Result(code, text.substring(0, rc));
    }
  }

  /** The host loopback port forwarded to {@code guestPort}. */
  public int hostPort(int guestPort) {
    Integer p = forwards.get(guestPort);
    if (p == null) {
      throw new IllegalArgumentException("guest port " + guestPort + " is not forwarded");
    }
    return p;
  }

  public String consoleTail(int chars) {
    int len = console.length();
    return console.substring(Math.max(0, len - chars));
  }

  public Path workDir() {
    return workDir;
  }

  @Override
  public void close() {
    if (qemu.isAlive()) {
      try {
        exec("sync; busybox poweroff -f", Duration.ofSeconds(5));
      } catch (IOException | RuntimeException e) {
        log.debug("poweroff: {}", e.toString());
      }
      try {
        if (!qemu.waitFor(10, TimeUnit.SECONDS)) {
          qemu.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        qemu.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  private static int freePort() throws IOException {
    try (var s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  // ---- initramfs -------------------------------------------------------------------------------------------

  private static Path buildInitramfs(Path workDir, Path moduleRoot) throws IOException, InterruptedException {
    Path root = workDir.resolve("initramfs");
    if (Files.exists(root)) {
      try (Stream<Path> walk = Files.walk(root)) {
        walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
    for (String d : List.of("bin", "dev", "proc", "sys", "host", "modules", "tmp")) {
      Files.createDirectories(root.resolve(d));
    }
    Files.copy(which("busybox").orElseThrow(), root.resolve("bin/busybox"));
    root.resolve("bin/busybox").toFile().setExecutable(true);
    Files.createSymbolicLink(root.resolve("bin/sh"), Path.of("busybox"));

    var index = new HashMap<String, Path>();
    try (Stream<Path> walk = Files.walk(moduleRoot.resolve("kernel"))) {
      walk.filter(p -> p.getFileName().toString().endsWith(".ko"))
          .forEach(p -> index.put(normal(p.getFileName().toString().replace(".ko", "")), p));
    }
    var order = new ArrayList<String>();
    for (String m : MODULES) {
      resolve(normal(m), index, order, new LinkedHashSet<>());
    }
    var init = new StringBuilder("""
        #!/bin/sh
        /bin/busybox --install -s /bin
        export PATH=/bin
        mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
        """);
    for (String m : order) {
      Files.copy(index.get(m), root.resolve("modules/" + m + ".ko"));
      init.append("insmod /modules/").append(m).append(".ko").append(m.equals("nbd") ? " nbds_max=8" : "")
          .append(" || echo \"insmod ").append(m).append(" failed\"\n");
    }
    init.append("""
        ip link set lo up; ip link set eth0 up
        ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
        mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host || echo "9p mount failed"
        mount -t proc proc /host/proc; mount -t sysfs sysfs /host/sys; mount -t devtmpfs devtmpfs /host/dev
        mkdir -p /hosttmp; mount -o bind /host/tmp /hosttmp
        mount -t tmpfs tmpfs /host/tmp; mount -t tmpfs tmpfs /host/run
        %s
        chroot /host /usr/bin/socat -t 3600 TCP-LISTEN:%d,fork,reuseaddr EXEC:/bin/sh,stderr </dev/null >/dev/console 2>&1 &
        echo %s
        while true; do sleep 3600; done
        """.formatted(repoUnderTmp(), AGENT_PORT, READY));
    Path initFile = root.resolve("init");
    Files.writeString(initFile, init);
    initFile.toFile().setExecutable(true);
    Path out = workDir.resolve("initramfs.cpio");
    var pb = new ProcessBuilder("sh", "-c", "find . | cpio -o -H newc --quiet > " + out).directory(root.toFile())
        .redirectErrorStream(true);
    var p = pb.start();
    String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("cpio failed: " + text);
    }
    return out;
  }

  /**
   * The guest's {@code /tmp} is a fresh tmpfs, which would hide a checkout that lives under the host's {@code /tmp}
   * (CI clones there): bind the repository back in, read-only, at the same path so guest JVMs find its classes.
   */
  private static String repoUnderTmp() {
    Path repo = repoRoot();
    if (!repo.startsWith("/tmp/")) {
      return "";
    }
    String rel = Path.of("/tmp").relativize(repo).toString();
    return "mkdir -p /host" + repo + " && mount -o bind /hosttmp/" + rel + " /host" + repo
        + " || echo \"bind of " + repo + " failed\"";
  }

  private static String normal(String module) {
    return module.replace('-', '_');
  }

  private static void resolve(String m, Map<String, Path> index, List<String> order, LinkedHashSet<String> visiting)
      throws IOException, InterruptedException {
    if (order.contains(m)) {
      return;
    }
    Path ko = index.get(m);
    if (ko == null) {
      return; // built into the kernel
    }
    if (!visiting.add(m)) {
      throw new IOException("module dependency cycle at " + m);
    }
    String deps = run(List.of("modinfo", "-F", "depends", ko.toString()), 30).strip();
    for (String d : deps.split(",")) {
      if (!d.isBlank()) {
        resolve(normal(d.strip()), index, order, visiting);
      }
    }
    order.add(m);
  }

  private static String run(List<String> cmd, int seconds) throws IOException {
    try {
      var p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(cmd + " timed out");
      }
      return out;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }
}
