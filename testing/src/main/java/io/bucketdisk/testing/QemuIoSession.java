package io.bucketdisk.testing;

import java.io.IOException;

/**
 * qemu-io kept connected: one command at a time on its stdin, each answer awaited for at most 60 s (a second
 * command sent before the first is answered may sit unread in qemu-io's input buffer).
 */
public final class QemuIoSession implements AutoCloseable {
  private final Process process;
  private final java.io.PrintWriter commands;
  private final java.util.concurrent.BlockingQueue<String> lines = new java.util.concurrent.LinkedBlockingQueue<>();
  private final StringBuilder transcript = new StringBuilder();

  /** Connects qemu-io to {@code uri} (requires qemu-io and stdbuf: {@link Tool#require}). */
  public QemuIoSession(String uri) throws IOException {
    // stdbuf: qemu-io's answers go through stdio, fully buffered on a pipe
    process = new ProcessBuilder("stdbuf", "-oL", "qemu-io", "-f", "raw", uri).redirectErrorStream(true).start();
    commands = new java.io.PrintWriter(process.getOutputStream(), true, java.nio.charset.StandardCharsets.UTF_8);
    Thread.ofVirtual().start(() -> {
      try (var out = process.inputReader(java.nio.charset.StandardCharsets.UTF_8)) {
        out.lines().forEach(lines::add);
      } catch (IOException | java.io.UncheckedIOException ignored) {
        // the process went away; command() sees the end marker
      }
      lines.add("\u0000end");
    });
  }

  /** Sends {@code command} and waits for a line containing {@code answer}. */
  public void command(String command, String answer) throws InterruptedException {
    commands.println(command);
    transcript.append("> ").append(command).append('\n');
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
    while (true) {
      String line = lines.poll(Math.max(1, deadline - System.nanoTime()), java.util.concurrent.TimeUnit.NANOSECONDS);
      if (line == null || line.equals("\u0000end")) {
        throw new AssertionError((line == null ? "no answer in 60 s" : "qemu-io ended") + " waiting for '" + answer
            + "':\n" + transcript);
      }
      transcript.append(line).append('\n');
      if (line.contains("failed") || line.contains("error") || line.contains("Error")) {
        throw new AssertionError("qemu-io:\n" + transcript);
      }
      if (line.contains(answer)) {
        return;
      }
    }
  }

  @Override
  public void close() throws InterruptedException {
    commands.close();
    process.destroy();
    process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
  }
}
