package io.bucketdisk.app;

import io.bucketdisk.node.NodeConfig;
import io.bucketdisk.node.NodePlugin;
import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.node.netlink.NetlinkException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bucketdisk node}: the CSI node plugin (Identity + Node) on a Unix socket until SIGTERM. Needs the
 * kernel nbd module and CAP_SYS_ADMIN; attached volumes survive a restart of this process.
 */
@Command(
    name = "node",
    mixinStandardHelpOptions = true,
    description = "Run the CSI node plugin: attach volumes as /dev/nbdN through netlink, format, mount, reattach.")
public final class NodeCommand implements Callable<Integer> {

  @Option(names = "--metrics", paramLabel = "HOST:PORT",
      description = "Serve Prometheus metrics at /metrics and liveness at /healthz, e.g. 0.0.0.0:9812.")
  @org.jspecify.annotations.Nullable String metrics;

  @Option(names = "--endpoint", paramLabel = "unix:///path",
      description = "CSI endpoint (default: env CSI_ENDPOINT, else unix:///var/lib/kubelet/plugins/csi.bucketdisk.io/csi.sock).")
  @Nullable String endpoint;

  @Option(names = "--node-id", paramLabel = "ID", description = "This node's id (default: env NODE_ID).")
  @Nullable String nodeId;

  @Option(names = "--gateway", paramLabel = "ADDR", defaultValue = "unix:///run/bucketdisk/nbd.sock",
      description = "This node's gateway's NBD address: unix:///path/nbd.sock, or HOST:PORT (mutual TLS with --tls-*) "
          + "(default: ${DEFAULT-VALUE}).")
  String gateway = "unix:///run/bucketdisk/nbd.sock";

  @Option(names = "--tls-cert", paramLabel = "PEM",
      description = "This node's certificate (PEM; its CN is the node id) for gateways reached over TCP: another "
          + "node's, for volumes served there. Re-read when it changes.")
  @Nullable Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM", description = "PKCS#8 private key (PEM) for --tls-cert.")
  @Nullable Path tlsKey;

  @Option(names = "--tls-ca", paramLabel = "PEM", description = "CA bundle (PEM) the gateways' certificates chain to.")
  @Nullable Path tlsCa;

  @Option(names = "--gateway-control", paramLabel = "ADDR", defaultValue = NodeConfig.DEFAULT_GATEWAY_CONTROL,
      description = "The gateway's control API, which creates and deletes ephemeral inline volumes: unix:///path or "
          + "tcp://HOST:PORT (default: ${DEFAULT-VALUE}).")
  String gatewayControl = NodeConfig.DEFAULT_GATEWAY_CONTROL;

  @Option(names = "--connections", paramLabel = "N", defaultValue = "4",
      description = "NBD connections per volume, 1-16 (default: ${DEFAULT-VALUE}).")
  int connections = 4;

  @Option(names = "--state-dir", paramLabel = "DIR", defaultValue = "/var/lib/bucketdisk/node",
      description = "Where staged volumes are recorded (default: ${DEFAULT-VALUE}).")
  Path stateDir = Path.of("/var/lib/bucketdisk/node");

  @Option(names = "--max-volumes", paramLabel = "N", defaultValue = "64",
      description = "Volumes this node accepts (default: ${DEFAULT-VALUE}).")
  long maxVolumes = 64;

  @Option(names = "--io-timeout", paramLabel = "SECONDS", defaultValue = "30",
      description = "Kernel per-request timeout; a request older than this is resent on a fresh connection (default: ${DEFAULT-VALUE}).")
  long ioTimeout = 30;

  @Option(names = "--reattach-timeout", paramLabel = "SECONDS", defaultValue = "120",
      description = "How long I/O waits for the gateway to come back before failing (default: ${DEFAULT-VALUE}).")
  long reattachTimeout = 120;

  @Override
  public Integer call() throws Exception {
    String ep = endpoint != null ? endpoint
        : System.getenv().getOrDefault("CSI_ENDPOINT", "unix:///var/lib/kubelet/plugins/csi.bucketdisk.io/csi.sock");
    String id = nodeId != null ? nodeId : System.getenv("NODE_ID");
    if (id == null || id.isBlank()) {
      throw new UserError("--node-id is required (or set NODE_ID)");
    }
    NodeConfig config;
    try {
      config = new NodeConfig(NodeConfig.parseEndpoint(ep), id, Endpoint.parse(gateway), connections, stateDir,
          maxVolumes, Duration.ofSeconds(ioTimeout), Duration.ofSeconds(reattachTimeout), gatewayControl,
          TlsFlags.client(tlsCert, tlsKey, tlsCa));
    } catch (IllegalArgumentException e) {
      throw new UserError(e.getMessage());
    }
    Operations ops = Operations.start(metrics);
    NodePlugin plugin;
    try {
      plugin = NodePlugin.start(config, ops == null ? null : ops.registry());
    } catch (NetlinkException e) {
      throw new UserError(e.getMessage(), e);
    } catch (IOException e) {
      throw new UserError(e.getMessage(), e);
    }
    if (ops != null) {
      ops.health(Operations.socketAnswers(config.socket()));
    }
    Runtime.getRuntime().addShutdownHook(new Thread(plugin::close, "node-shutdown"));
    plugin.awaitTermination();
    return 0;
  }
}
