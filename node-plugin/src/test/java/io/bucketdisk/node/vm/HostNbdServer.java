package io.bucketdisk.node.vm;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An NBD server on the host's loopback for VM tests: {@code nbdkit file} over a sparse image (multi-conn,
 * flush, FUA, trim), stoppable and restartable on the same port to simulate a gateway restart. The image
 * survives restarts, so what the guest flushed is still there afterwards.
 */
public final class HostNbdServer implements AutoCloseable {
  private final Path image;
  private final String export;
  private final int port;
  private final Path logFile;
  private Process process;

  private HostNbdServer(Path image, String export, int port, Path logFile) {
    this.image = image;
    this.export = export;
    this.port = port;
    this.logFile = logFile;
  }

  public static HostNbdServer start(Path dir, String export, long sizeBytes) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    Path image = dir.resolve(export + ".img");
    try (var f = new RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(sizeBytes);
    }
    int port;
    try (var s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    var server = new HostNbdServer(image, export, port, dir.resolve("nbdkit.log"));
    server.startProcess();
    return server;
  }

  public void startProcess() throws IOException, InterruptedException {
    process = new ProcessBuilder(List.of("nbdkit", "-f", "-i", "127.0.0.1", "-p", Integer.toString(port),
        "-e", export, "file", image.toString()))
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile())).start();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline) {
      try (var s = new Socket("127.0.0.1", port)) {
        return;
      } catch (IOException e) {
        Thread.sleep(50);
      }
    }
    throw new IOException("nbdkit did not listen on " + port + ": " + Files.readString(logFile));
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s); connections drop. */
  public void stop() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroy();
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
  }

  /** Grows the backing image, as a controller-side expand would grow the volume. */
  public void resize(long sizeBytes) throws IOException {
    try (var f = new RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(sizeBytes);
    }
  }

  public byte[] read(long offset, int length) throws IOException {
    try (var f = new RandomAccessFile(image.toFile(), "r")) {
      byte[] b = new byte[length];
      f.seek(offset);
      f.readFully(b);
      return b;
    }
  }

  public int port() {
    return port;
  }

  public String export() {
    return export;
  }

  public Path image() {
    return image;
  }

  @Override
  public void close() {
    try {
      stop();
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
