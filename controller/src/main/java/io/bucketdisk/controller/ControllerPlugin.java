package io.bucketdisk.controller;

import io.bucketdisk.store.VolumeCatalog;
import io.grpc.BindableService;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The controller plugin assembled: Identity and Controller services over one {@link VolumeCatalog}. {@link #serve}
 * puts them on a Unix socket. Closing stops the gateway client; the caller owns the catalog.
 *
 * @param gatewayAddress NBD address of the gateway the nodes should use, passed in publish_context; null when each
 *     node uses its local gateway
 */
public final class ControllerPlugin implements AutoCloseable {

  private final VolumeManager volumes;
  private final SnapshotManager snapshots;
  private final GatewayClient gateways;
  private final List<BindableService> services;

  public ControllerPlugin(VolumeCatalog catalog, NodeDirectory nodes, @Nullable String gatewayAddress) {
    this(catalog, nodes, gatewayAddress, null);
  }

  /** As above; gateways' control APIs on TCP are called over mutual TLS with {@code tls}. */
  public ControllerPlugin(VolumeCatalog catalog, NodeDirectory nodes, @Nullable String gatewayAddress,
      io.bucketdisk.common.tls.@Nullable TlsFiles tls) {
    this.gateways = new GatewayClient(Duration.ofSeconds(60), tls);
    this.volumes = new VolumeManager(catalog, gateways);
    this.snapshots = new SnapshotManager(volumes, gateways);
    var fencer = new PublishFencer(volumes, nodes, gatewayAddress);
    this.services = List.of(new IdentityService(catalog), new ControllerService(volumes, snapshots, fencer));
  }

  public VolumeManager volumes() {
    return volumes;
  }

  public SnapshotManager snapshots() {
    return snapshots;
  }

  public List<BindableService> services() {
    return services;
  }

  /** Serves the plugin on {@code socket}; see {@link CsiServer#start}. */
  public CsiServer serve(Path socket, @Nullable MeterRegistry metrics) throws IOException {
    return CsiServer.start(socket, services, metrics);
  }

  @Override
  public void close() {
    gateways.close();
  }
}
