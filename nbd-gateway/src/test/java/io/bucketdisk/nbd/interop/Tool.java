package io.bucketdisk.nbd.interop;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs an external NBD client and captures what it prints; skips the test when the tool is not installed. */
final class Tool {
  private Tool() {}

  /** What a tool printed and how it exited. */
  record Result(int exit, String out, String err) {
    Result ok() {
      if (exit != 0) {
        throw new AssertionError("exit " + exit + "\nstdout:\n" + out + "\nstderr:\n" + err);
      }
      return this;
    }
  }

  /** Skips the calling test unless {@code name} is on the PATH. */
  static void require(String name) {
    boolean found =
        List.of(System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")).stream()
                .anyMatch(dir -> Files.isExecutable(Path.of(dir, name)))
            || Files.isExecutable(Path.of("/usr/sbin", name));
    assumeTrue(found, name + " is not installed (apt-get install it, or run scripts/setup.sh)");
  }

  static Result run(String... command) throws IOException, InterruptedException {
    return run(60, command);
  }

  static Result run(int timeoutSeconds, String... command) throws IOException, InterruptedException {
    var dir = Files.createTempDirectory("bdtool");
    var out = dir.resolve("out");
    var err = dir.resolve("err");
    var pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.environment().put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin");
    Process p = pb.start();
    try {
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        throw new AssertionError(String.join(" ", command) + " did not finish in " + timeoutSeconds + " s");
      }
      return new Result(
          p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
      Files.deleteIfExists(dir);
    }
  }
}
