package io.bucketdisk.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A Java process a test starts from its own class path, to kill it (SIGKILL), stop it (SIGTERM) or watch it fail.
 *
 * <p><b>One readiness protocol:</b> the child prints a line (READY, "serving NBD on ...", "ACK 7"), and {@link
 * #awaitLine} waits for it, bounded; each call continues after the line the previous one returned. Standard output
 * and error go to one log file, so a full pipe never blocks the child and a failure shows everything it printed
 * ({@link #output}).
 *
 * <p>Not thread safe; one test thread drives it. {@link #close} kills the process if it still runs.
 */
public final class ChildJvm implements AutoCloseable {
  private static final Duration POLL = Duration.ofMillis(20);

  private final Process process;
  private final Path log;
  private final String name;
  private int linesSeen;

  private ChildJvm(Process process, Path log, String name) {
    this.process = process;
    this.log = log;
    this.name = name;
  }

  /**
   * Starts {@code mainClass} with {@code args} on this test's class path, with {@code jvmOptions} (heap, JIT...) and
   * extra environment variables; output goes to {@code log}.
   */
  public static ChildJvm start(Path log, List<String> jvmOptions, Map<String, String> environment, String mainClass,
      String... args) throws IOException {
    String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-cp", classPath, mainClass));
    cmd.addAll(List.of(args));
    var pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().putAll(environment);
    String simple = mainClass.substring(mainClass.lastIndexOf('.') + 1);
    return new ChildJvm(pb.start(), log, simple + (args.length > 0 ? " " + args[0] : ""));
  }

  /** As {@link #start(Path, List, Map, String, String...)} with no JVM options and no extra environment. */
  public static ChildJvm start(Path log, String mainClass, String... args) throws IOException {
    return start(log, List.of(), Map.of(), mainClass, args);
  }

  /**
   * The next line (after the last one this method returned) that {@code matches}; waits at most {@code timeout}.
   * Throws an AssertionError with the child's output when the child exits first or time runs out.
   */
  public String awaitLine(Predicate<String> matches, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      boolean alive = process.isAlive(); // read before the log, so the last lines of a dead child are seen
      List<String> lines = output().lines().toList();
      for (int i = linesSeen; i < lines.size(); i++) {
        // a line without its newline yet may still be growing; it is taken only once the child has moved on
        boolean complete = i < lines.size() - 1 || output().endsWith("\n");
        if (complete && matches.test(lines.get(i))) {
          linesSeen = i + 1;
          return lines.get(i);
        }
      }
      if (!alive) {
        throw new AssertionError(name + " exited (" + process.exitValue() + ") before the line we waited for; it "
            + "printed:\n" + tail());
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(name + " did not print the line we waited for within " + timeout + "; it printed:\n"
            + tail());
      }
      Thread.sleep(POLL);
    }
  }

  /** The next line that contains {@code marker}. */
  public String awaitLine(String marker, Duration timeout) throws InterruptedException {
    return awaitLine(line -> line.contains(marker), timeout);
  }

  /** Everything the child printed so far (standard output and error). */
  public String output() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private String tail() {
    var lines = output().lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
  }

  public Process process() {
    return process;
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** SIGKILL, then waits (at most 10 s) until the process is gone. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  /** SIGTERM and waits up to {@code grace} for the exit; true when it exited in time (else it is killed). */
  public boolean stop(Duration grace) throws InterruptedException {
    process.destroy();
    if (process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
      return true;
    }
    kill();
    return false;
  }

  /** Waits for the child to exit by itself; its exit code, or an AssertionError with its output after {@code timeout}. */
  public int waitFor(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError(name + " still runs after " + timeout + "; it printed:\n" + tail());
    }
    return process.exitValue();
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      kill();
    }
  }
}
