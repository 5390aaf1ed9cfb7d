package io.bucketdisk.node;

import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.proto.gateway.AwaitVolumeClosedRequest;
import io.bucketdisk.proto.gateway.CreateEphemeralVolumeRequest;
import io.bucketdisk.proto.gateway.DeleteEphemeralVolumeRequest;
import io.bucketdisk.proto.gateway.GatewayControlGrpc;
import io.bucketdisk.rpc.GatewayChannels;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * This node's gateway control API ({@code gateway_control.proto}), which creates and deletes the store volumes of
 * ephemeral inline volumes for the node plugin (the node has no store access). The address is {@code
 * unix:///run/bucketdisk/control.sock} or {@code tcp://HOST:PORT}; the channel connects lazily, so a gateway that is
 * down fails only the calls that need it. Failures keep the gateway's gRPC code (ALREADY_EXISTS, INVALID_ARGUMENT,
 * FAILED_PRECONDITION; UNAVAILABLE when it cannot be reached) with a message naming the address. Thread safe.
 */
final class GatewayControl implements AutoCloseable {
  private static final long DEADLINE_SECONDS = 60;

  private final String address;
  private final ManagedChannel channel;

  GatewayControl(String address) {
    this(address, null);
  }

  /** As above; on TCP, mutual TLS with {@code tls} when given (see {@link GatewayChannels}). */
  GatewayControl(String address, io.bucketdisk.common.tls.@org.jspecify.annotations.Nullable TlsFiles tls) {
    this.address = address;
    this.channel = GatewayChannels.open(Endpoint.parse(address), tls);
  }

  /** The grpc-java target of a control address ({@link Endpoint}); IllegalArgumentException naming the forms. */
  static String target(String address) {
    return Endpoint.parse(address).target();
  }

  String address() {
    return address;
  }

  /**
   * Creates (or finds, on a retry) the store volume of ephemeral volume {@code name}, published to {@code nodeId} in
   * its manifest so nothing deletes it while this node uses it; its store id.
   */
  String createEphemeral(String name, long sizeBytes, int chunkSize, Map<String, String> parameters, String nodeId) {
    try {
      return stub().createEphemeralVolume(CreateEphemeralVolumeRequest.newBuilder().setName(name)
          .setSizeBytes(sizeBytes).setChunkSize(chunkSize).putAllParameters(parameters).setNodeId(nodeId).build())
          .getVolumeId();
    } catch (StatusRuntimeException e) {
      throw relay(e);
    }
  }

  /** Unpublishes and deletes ephemeral store volume {@code volumeId}; false when it was already gone. */
  boolean deleteEphemeral(String volumeId) {
    try {
      return stub().deleteEphemeralVolume(DeleteEphemeralVolumeRequest.newBuilder().setVolumeId(volumeId).build())
          .getExisted();
    } catch (StatusRuntimeException e) {
      throw relay(e);
    }
  }

  /**
   * Waits until the gateway has let go of {@code volumeId} (last connection ended, flushed, lease released); the
   * connections still open after {@code timeout} (0 when it let go).
   */
  int awaitClosed(String volumeId, java.time.Duration timeout) {
    try {
      return stub().awaitVolumeClosed(AwaitVolumeClosedRequest.newBuilder().setVolumeId(volumeId)
          .setTimeoutMs((int) timeout.toMillis()).build()).getConnections();
    } catch (StatusRuntimeException e) {
      throw relay(e);
    }
  }

  private GatewayControlGrpc.GatewayControlBlockingStub stub() {
    return GatewayControlGrpc.newBlockingStub(channel).withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  private StatusRuntimeException relay(StatusRuntimeException e) {
    Status s = e.getStatus();
    return s.withDescription("gateway control " + address + ": " + s.getDescription()).asRuntimeException();
  }

  @Override
  public void close() {
    channel.shutdownNow();
  }
}
