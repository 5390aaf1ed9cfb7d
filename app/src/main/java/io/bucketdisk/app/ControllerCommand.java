package io.bucketdisk.app;

import io.bucketdisk.controller.ControllerPlugin;
import io.bucketdisk.controller.CsiServer;
import io.bucketdisk.controller.KubernetesNodeDirectory;
import io.bucketdisk.controller.metrics.ControllerHealth;
import io.bucketdisk.controller.NodeDirectory;
import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.VolumeCatalog;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bucketdisk controller}: the CSI controller plugin (Identity + Controller) on a Unix socket until SIGTERM.
 * Node ids for ControllerPublish are checked against the Kubernetes API when running in a pod, against {@code
 * --nodes} otherwise.
 */
@Command(
    name = "controller",
    mixinStandardHelpOptions = true,
    description = "Run the CSI controller plugin (create/delete/expand/snapshot/publish volumes) on a Unix socket.")
public final class ControllerCommand implements Callable<Integer> {

  private static final Logger log = LoggerFactory.getLogger(ControllerCommand.class);

  @Option(names = "--endpoint", paramLabel = "unix:///path",
      description = "CSI endpoint (default: env CSI_ENDPOINT, else unix:///csi/csi.sock).")
  @Nullable String endpoint;

  @Option(names = "--store", required = true, paramLabel = "URL",
      description = "Where volumes live: file:///abs/dir or s3://bucket/prefix?endpoint=...")
  String store = "";

  @Option(names = "--nodes", split = ",", paramLabel = "NODE",
      description = "Node ids ControllerPublish accepts when not running in Kubernetes (comma-separated).")
  @Nullable List<String> nodes;

  @Option(names = "--gateway-address", paramLabel = "ADDR",
      description = "NBD gateway address nodes should use, passed in publish_context (default: each node's own).")
  @Nullable String gatewayAddress;

  @Option(names = "--tls-cert", paramLabel = "PEM",
      description = "The controller's client certificate (PEM, CN bucketdisk-controller) for gateways' control APIs on "
          + "TCP (mutual TLS); re-read when it changes.")
  @Nullable Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM", description = "PKCS#8 private key (PEM) for --tls-cert.")
  @Nullable Path tlsKey;

  @Option(names = "--tls-ca", paramLabel = "PEM",
      description = "CA bundle (PEM) the gateways' certificates must chain to.")
  @Nullable Path tlsCa;

  @Option(names = "--metrics", paramLabel = "HOST:PORT", description = "Serve Prometheus metrics at /metrics and liveness at /healthz, e.g. 0.0.0.0:9811.")
  @Nullable String metrics;

  @Override
  public Integer call() throws Exception {
    String ep = endpoint != null ? endpoint : System.getenv().getOrDefault("CSI_ENDPOINT", "unix:///csi/csi.sock");
    Path socket;
    try {
      socket = CsiServer.parseEndpoint(ep);
    } catch (IllegalArgumentException e) {
      throw new UserError("--endpoint: " + e.getMessage());
    }
    NodeDirectory directory = nodeDirectory();
    try (VolumeCatalog catalog = VolumeCommand.openCatalog(store);
        ControllerPlugin plugin = new ControllerPlugin(catalog, directory, gatewayAddress,
            TlsFlags.client(tlsCert, tlsKey, tlsCa))) {
      CsiServer server;
      try {
        Operations ops = Operations.start(metrics);
        if (ops != null) {
          ops.health(ControllerHealth.of(catalog));
        }
        server = plugin.serve(socket, ops == null ? null : ops.registry());
      } catch (IOException e) {
        throw new UserError(e.getMessage(), e);
      }
      log.info("controller {} {} serving store {} on {}; nodes: {}", "csi.bucketdisk.io", "0.1.0",
          catalog.objectStore().describe(), ep, directory.describe());
      Thread hook = new Thread(server::close, "controller-shutdown");
      Runtime.getRuntime().addShutdownHook(hook);
      server.awaitTermination();
    }
    return 0;
  }

  private NodeDirectory nodeDirectory() throws IOException {
    if (KubernetesNodeDirectory.inCluster(System.getenv())) {
      return KubernetesNodeDirectory.fromCluster();
    }
    if (nodes != null && !nodes.isEmpty()) {
      return NodeDirectory.of(new LinkedHashSet<>(nodes));
    }
    log.warn("no --nodes list and not running in Kubernetes: ControllerPublish accepts any node id");
    return NodeDirectory.ANY;
  }

  static CatalogOptions options() {
    return CatalogOptions.defaults();
  }

  static URI uri(String url) {
    try {
      return URI.create(url);
    } catch (IllegalArgumentException e) {
      throw new UserError("--store '" + url + "' is not a URL; use file:///abs/dir or s3://bucket/prefix?...");
    }
  }
}
