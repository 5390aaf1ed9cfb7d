package io.bucketdisk.app;

import io.bucketdisk.nbd.export.ExportProvider;
import io.bucketdisk.nbd.server.NbdListener;
import io.bucketdisk.nbd.server.ServerOptions;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bucketdisk dev}: everything on one machine for trying bucketdisk out. Serves the volume {@code demo}
 * (1 GiB) on 127.0.0.1 and a Unix socket in the data directory, prints the NBD URIs, and stops cleanly on
 * Ctrl-C or SIGTERM.
 */
@Command(
    name = "dev",
    mixinStandardHelpOptions = true,
    description = "Serve the volume 'demo' (1 GiB) over NBD on 127.0.0.1 and a Unix socket, for local use.")
public final class DevCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(names = "--data", paramLabel = "DIR", defaultValue = "./data",
      description = "Data directory; the Unix socket is DIR/nbd.sock (default: ${DEFAULT-VALUE}).")
  Path data;

  @Option(names = "--port", paramLabel = "N", defaultValue = "10809",
      description = "TCP port on 127.0.0.1 (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--cache-size", paramLabel = "SIZE", defaultValue = "1Gi",
      description = "Chunk cache memory (clean + dirty chunks), a Kubernetes quantity, e.g. 512Mi or 2Gi (default: ${DEFAULT-VALUE}).")
  String cacheSize;

  @Option(names = "--disk-cache", paramLabel = "DIR",
      description = "Directory for an optional local disk tier below the RAM cache (e.g. a node's NVMe); its file is "
          + "recreated empty at start. Needs --disk-cache-size.")
  @org.jspecify.annotations.Nullable Path diskCache;

  @Option(names = "--disk-cache-size", paramLabel = "SIZE",
      description = "Size of the disk tier's file, a Kubernetes quantity, e.g. 100Gi (with --disk-cache).")
  @org.jspecify.annotations.Nullable String diskCacheSize;

  @Option(names = "--metrics", paramLabel = "HOST:PORT",
      description = "Serve Prometheus metrics at /metrics and liveness at /healthz, e.g. 127.0.0.1:9810.")
  @org.jspecify.annotations.Nullable String metrics;

  @Override
  public Integer call() throws Exception {
    if (port < 0 || port > 65535) {
      throw new UserError("--port " + port + ": use a port from 1 to 65535 (0 picks a free one)");
    }
    Path socket = data.toAbsolutePath().normalize().resolve("nbd.sock");
    var out = spec.commandLine().getOut();
    var disk = StoreWiring.diskTier(diskCache, diskCacheSize);
    Operations ops = Operations.start(metrics);
    ExportProvider provider = StoreWiring.devProvider(data, GatewayCommand.DEMO_SIZE,
        StoreWiring.cacheConfig(cacheSize), disk,
        ops == null ? io.bucketdisk.store.StoreMetrics.NONE : ops.storeMetrics());
    if (ops != null) {
      provider = ops.gateway(provider);
    }
    serve(provider, List.of(new InetSocketAddress("127.0.0.1", port), UnixDomainSocketAddress.of(socket)), out, ops);
    return 0;
  }

  private static void serve(ExportProvider provider, List<SocketAddress> addresses, java.io.PrintWriter out,
      @org.jspecify.annotations.Nullable Operations ops) throws InterruptedException {
    GatewayCommand.serve(
        provider,
        addresses,
        ServerOptions.defaults(),
        out,
        bound -> {
          for (SocketAddress a : bound) {
            if (a instanceof InetSocketAddress inet) {
              out.println("nbd://127.0.0.1:" + inet.getPort() + "/demo");
            } else if (a instanceof UnixDomainSocketAddress unix) {
              out.println("nbd+unix:///demo?socket=" + unix.getPath());
            }
          }
          out.println("serving 'demo' (" + GatewayCommand.DEMO_SIZE + " bytes) on "
              + String.join(", ", bound.stream().map(NbdListener::describe).toList()) + "; Ctrl-C stops");
          out.flush();
        },
        ops);
  }
}
