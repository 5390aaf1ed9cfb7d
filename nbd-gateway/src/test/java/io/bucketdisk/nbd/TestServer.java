package io.bucketdisk.nbd;

import io.bucketdisk.nbd.export.ExportProvider;
import io.bucketdisk.nbd.export.MemoryExport;
import io.bucketdisk.nbd.export.MemoryExportProvider;
import io.bucketdisk.nbd.server.NbdListener;
import io.bucketdisk.nbd.server.ServerOptions;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A real gateway listener on 127.0.0.1 (ephemeral port) and a Unix socket under /tmp, serving memory exports:
 * {@code demo} (64 MiB, writable), {@code ro} (1 MiB, read-only), {@code aligned} (1 MiB, minimum block 4096).
 */
public final class TestServer implements AutoCloseable {
  public final ExportProvider provider;
  public final NbdListener listener;
  public final InetSocketAddress tcp;
  public final UnixDomainSocketAddress unix;
  private final Path dir;

  public TestServer() throws IOException {
    this(defaultProvider(64L << 20), ServerOptions.defaults());
  }

  public TestServer(ExportProvider provider, ServerOptions options) throws IOException {
    this.provider = provider;
    this.listener = new NbdListener(provider, options);
    this.dir = Files.createTempDirectory(Path.of("/tmp"), "bdnbd");
    this.tcp = (InetSocketAddress) listener.listen(new InetSocketAddress("127.0.0.1", 0));
    this.unix = (UnixDomainSocketAddress) listener.listen(UnixDomainSocketAddress.of(dir.resolve("nbd.sock")));
  }

  public static MemoryExportProvider defaultProvider(long demoSize) {
    return new MemoryExportProvider(
        new MemoryExport("demo", "test volume", demoSize),
        new MemoryExport("ro", "read-only volume", 1 << 20, true),
        new MemoryExport("aligned", "4 KiB blocks", 1 << 20, false, 4096));
  }

  public SocketAddress address() {
    return tcp;
  }

  public String uri(String export) {
    return "nbd://127.0.0.1:" + tcp.getPort() + "/" + export;
  }

  public String unixUri(String export) {
    return "nbd+unix:///" + export + "?socket=" + unix.getPath();
  }

  public RawClient client() throws IOException {
    return new RawClient(tcp);
  }

  @Override
  public void close() throws IOException {
    listener.stop();
    provider.close();
    Files.deleteIfExists(unix.getPath());
    Files.deleteIfExists(dir);
  }
}
