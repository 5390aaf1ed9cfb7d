package io.bucketdisk.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Runs an external program (an NBD client, qemu-io, fio, openssl...) with a bounded wait and captures what it
 * printed. {@link #require} is the check a test makes before it uses one ({@link Requirement} decides skip or fail).
 */
public final class Tool {
  private static final String PATH = System.getenv().getOrDefault("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin";

  private Tool() {}

  /** What a program printed and how it exited. */
  public record Result(int exit, String out, String err) {
    /** This result, or an AssertionError with everything it printed when it did not exit 0. */
    public Result ok() {
      if (exit != 0) {
        throw new AssertionError("exit " + exit + "\nstdout:\n" + out + "\nstderr:\n" + err);
      }
      return this;
    }
  }

  /** The program's path on the PATH (plus /usr/sbin and /sbin). */
  public static Optional<Path> find(String name) {
    return Arrays.stream(PATH.split(":")).map(dir -> Path.of(dir, name)).filter(Files::isExecutable).findFirst();
  }

  /** Requires {@code name} on the PATH (see {@link Requirement}). */
  public static void require(String name) {
    Requirement.require(find(name).isPresent(),
        name + " is not installed (scripts/setup.sh installs it; or apt-get install the package that has it)");
  }

  /** Runs {@code command}, waiting at most 90 s. */
  public static Result run(String... command) throws IOException, InterruptedException {
    return run(90, command);
  }

  /** Runs {@code command}, waiting at most {@code timeoutSeconds}; a program still running then is killed. */
  public static Result run(int timeoutSeconds, String... command) throws IOException, InterruptedException {
    Path dir = Files.createTempDirectory("bdtool");
    Path out = dir.resolve("out");
    Path err = dir.resolve("err");
    var pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.environment().put("PATH", PATH);
    Process p = pb.start();
    try {
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        throw new AssertionError(String.join(" ", command) + " did not finish in " + timeoutSeconds + " s");
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
      Files.deleteIfExists(dir);
    }
  }
}
