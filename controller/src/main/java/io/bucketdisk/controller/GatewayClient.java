package io.bucketdisk.controller;

import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.proto.gateway.GatewayControlGrpc;
import io.bucketdisk.proto.gateway.RefreshVolumeRequest;
import io.bucketdisk.proto.gateway.SnapshotVolumeRequest;
import io.bucketdisk.common.tls.TlsFiles;
import io.bucketdisk.rpc.GatewayChannels;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls a gateway's control API (gateway_control.proto) at the address its lease names: {@code
 * unix:///run/bucketdisk/control.sock} or {@code tcp://host:port} (a gateway on another node), any {@link Endpoint} form. Used
 * when a volume is open on a gateway, so the snapshot
 * includes every write that gateway acknowledged before the call. One channel per address, kept for reuse. Thread
 * safe. Failures surface as {@link VolumeError.Reason#UNAVAILABLE} naming the gateway.
 */
public class GatewayClient implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(GatewayClient.class);
  private final ConcurrentHashMap<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Duration snapshotDeadline;
  private final @Nullable TlsFiles tls;

  public GatewayClient(Duration snapshotDeadline) {
    this(snapshotDeadline, null);
  }

  /**
   * As above; gateways on TCP are called over mutual TLS with {@code tls} (the controller's certificate, CN {@code
   * bucketdisk-controller}, and the CA of the gateways' certificates).
   */
  public GatewayClient(Duration snapshotDeadline, @Nullable TlsFiles tls) {
    this.snapshotDeadline = snapshotDeadline;
    this.tls = tls;
  }

  /** Asks the gateway at {@code address} to flush the volume and record snapshot {@code snapshotId}. */
  public void snapshot(String address, String volumeId, String snapshotId) {
    try {
      GatewayControlGrpc.newBlockingStub(channel(address))
          .withDeadlineAfter(snapshotDeadline.toMillis(), TimeUnit.MILLISECONDS)
          .snapshotVolume(SnapshotVolumeRequest.newBuilder().setVolumeId(volumeId).setSnapshotId(snapshotId).build());
    } catch (StatusRuntimeException e) {
      throw new VolumeError(VolumeError.Reason.UNAVAILABLE, "gateway " + address + " could not snapshot volume "
          + volumeId + ": " + e.getStatus().getCode() + " " + e.getStatus().getDescription());
    }
  }

  /** Tells the gateway the volume's size changed; best effort (the gateway also re-reads on reopen). */
  public void refresh(String address, String volumeId) {
    try {
      GatewayControlGrpc.newBlockingStub(channel(address)).withDeadlineAfter(10, TimeUnit.SECONDS)
          .refreshVolume(RefreshVolumeRequest.newBuilder().setVolumeId(volumeId).build());
    } catch (StatusRuntimeException e) {
      log.warn("volume {}: gateway {} did not take the new size now ({}); it sees it on its next refresh", volumeId,
          address, e.getStatus().getCode());
    }
  }

  private ManagedChannel channel(String address) {
    return channels.computeIfAbsent(address, a -> GatewayChannels.open(Endpoint.parse(a), tls));
  }

  /** The grpc-java target for a lease's control address ({@link Endpoint}). */
  static String target(String address) {
    return Endpoint.parse(address).target();
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
    channels.clear();
  }
}
