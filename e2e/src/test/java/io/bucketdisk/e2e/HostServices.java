package io.bucketdisk.e2e;

import io.bucketdisk.controller.ControllerPlugin;
import io.bucketdisk.controller.CsiServer;
import io.bucketdisk.controller.NodeDirectory;
import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.nbd.control.GatewayControlServer;
import io.bucketdisk.nbd.server.NbdListener;
import io.bucketdisk.nbd.server.ServerOptions;
import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.object.ObjectInfo;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The host half of the whole system, as it runs in a cluster but in this JVM: s3proxy (one bucket), the CSI
 * controller on its real Unix socket over that bucket, and the gateway (NBD on 127.0.0.1, which the guest
 * reaches as {@code 10.0.2.2}, plus its control API on a Unix socket, named in the leases it takes so the
 * controller can ask it to snapshot and refresh; and on 127.0.0.1 TCP, which the guest's node plugin reaches as
 * {@code 10.0.2.2} to create and delete ephemeral inline volumes). The controller names the gateway in
 * publish_context, as {@code --gateway-address} does. Closing stops everything, gateway first so it flushes.
 */
final class HostServices implements AutoCloseable {
  static final String PREFIX = "e2e/";
  static final String GATEWAY_ID = "host-gateway";

  final Path dir;
  final S3ProxyFixture s3;
  final VolumeExportProvider gateway;
  final GatewayControlServer control;
  final GatewayControlServer controlTcp;
  final int controlPort;
  final NbdListener nbd;
  final int nbdPort;
  final VolumeCatalog catalog;
  final ControllerPlugin controller;
  final CsiServer csi;

  private HostServices(Path dir, S3ProxyFixture s3, VolumeExportProvider gateway, GatewayControlServer control,
      GatewayControlServer controlTcp, NbdListener nbd, int nbdPort, VolumeCatalog catalog, ControllerPlugin controller,
      CsiServer csi) {
    this.dir = dir;
    this.s3 = s3;
    this.gateway = gateway;
    this.control = control;
    this.controlTcp = controlTcp;
    this.controlPort = Integer.parseInt(controlTcp.address().substring(controlTcp.address().lastIndexOf(':') + 1));
    this.nbd = nbd;
    this.nbdPort = nbdPort;
    this.catalog = catalog;
    this.controller = controller;
    this.csi = csi;
  }

  /** Starts s3proxy, the gateway and the controller; {@code nodeId} is the only node the controller accepts. */
  static HostServices start(String nodeId, String gatewayHostFromNode) throws Exception {
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "bde2e");
    var s3 = S3ProxyFixture.start();
    var storeUrl = s3.storeUrl(PREFIX);
    Path controlSocket = dir.resolve("control.sock");
    var gateway = VolumeExportProvider.forStore(storeUrl, new LeaseOwner(GATEWAY_ID, "unix://" + controlSocket),
        CacheConfig.ofSize(256L << 20), null);
    var control = GatewayControlServer.start(controlSocket, gateway.volumes());
    var controlTcp = GatewayControlServer.start("tcp://127.0.0.1:0", gateway.volumes());
    // No lame-duck grace: the guest kernel never disconnects on its own.
    var nbd = new NbdListener(gateway, ServerOptions.defaults().withShutdownGrace(java.time.Duration.ZERO));
    int port = ((InetSocketAddress) nbd.listen(new InetSocketAddress("127.0.0.1", 0))).getPort();
    var catalog = VolumeCatalog.open(storeUrl, CatalogOptions.defaults());
    var controller = new ControllerPlugin(catalog, NodeDirectory.of(Set.of(nodeId)), gatewayHostFromNode + ":" + port);
    var csi = controller.serve(dir.resolve("csi.sock"), null);
    return new HostServices(dir, s3, gateway, control, controlTcp, nbd, port, catalog, controller, csi);
  }

  /** Every key in the test's prefix of the bucket, read straight from s3proxy. */
  List<String> bucketKeys() throws Exception {
    var keys = new ArrayList<String>();
    try (var store = s3.objectStore(PREFIX)) {
      @Nullable String token = null;
      for (int page = 0; page < 100; page++) {
        var p = store.list("", token, 1000);
        for (ObjectInfo o : p.objects()) {
          keys.add(o.key());
        }
        token = p.nextToken();
        if (token == null) {
          break;
        }
      }
    }
    return keys;
  }

  @Override
  public void close() throws Exception {
    csi.close();
    controller.close();
    nbd.stop();
    controlTcp.close();
    control.close();
    gateway.close();
    catalog.close();
    s3.close();
  }
}
