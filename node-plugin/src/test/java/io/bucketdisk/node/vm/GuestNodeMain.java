package io.bucketdisk.node.vm;

import io.bucketdisk.node.NodeConfig;
import io.bucketdisk.node.NodePlugin;
import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.common.tls.TlsFiles;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Runs the real node plugin inside the test VM (the app module's {@code bucketdisk node} is not on this
 * module's class path). Arguments: socket, node id, gateway, connections, state dir, io timeout s, reattach timeout s,
 * and optionally the gateway control address (default {@link NodeConfig#DEFAULT_GATEWAY_CONTROL}) and then this
 * node's certificate, key and the gateways' CA (mutual TLS to a TCP gateway).
 */
public final class GuestNodeMain {
  private GuestNodeMain() {}

  public static void main(String[] args) throws Exception {
    var config = new NodeConfig(Path.of(args[0]), args[1], Endpoint.parse(args[2]), Integer.parseInt(args[3]),
        Path.of(args[4]), 16, Duration.ofSeconds(Long.parseLong(args[5])), Duration.ofSeconds(Long.parseLong(args[6])),
        args.length > 7 ? args[7] : NodeConfig.DEFAULT_GATEWAY_CONTROL,
        args.length > 10 ? TlsFiles.load(Path.of(args[8]), Path.of(args[9]), Path.of(args[10])) : null);
    var plugin = NodePlugin.start(config);
    Runtime.getRuntime().addShutdownHook(new Thread(plugin::close));
    System.out.println("GUEST-NODE-READY");
    plugin.awaitTermination();
  }
}
