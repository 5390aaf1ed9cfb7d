package io.bucketdisk.nbd.control;

import io.bucketdisk.common.tls.PeerIdentity;
import io.bucketdisk.nbd.access.PublicationAccess;
import io.bucketdisk.proto.gateway.AwaitVolumeClosedRequest;
import io.bucketdisk.proto.gateway.CreateEphemeralVolumeRequest;
import io.bucketdisk.proto.gateway.DeleteEphemeralVolumeRequest;
import io.bucketdisk.proto.gateway.FlushVolumeRequest;
import io.bucketdisk.store.VolumeCatalog;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.io.IOException;
import java.util.Optional;
import java.util.Set;
import javax.net.ssl.SSLSession;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who may call which control RPC, checked on each request before the service sees it. A call over mutual TLS speaks
 * for the name in its client certificate ({@link PeerIdentity}):
 *
 * <ul>
 *   <li>{@link PeerIdentity#CONTROLLER}: FlushVolume, RefreshVolume, SnapshotVolume, AwaitVolumeClosed, ListOpenVolumes on
 *       any volume (what CreateSnapshot, clones, expansion and DeleteVolume need);
 *   <li>a node: CreateEphemeralVolume for itself ({@code node_id} is its own name), DeleteEphemeralVolume,
 *       FlushVolume and AwaitVolumeClosed of volumes published to it;
 *   <li>anything else: PERMISSION_DENIED, logged with the caller's name and address.
 * </ul>
 *
 * A call without a certificate (the node's own Unix socket, a loopback listener) is not restricted. Thread safe.
 */
final class ControlAccess implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger(ControlAccess.class);
  private static final Set<String> CONTROLLER_RPCS =
      Set.of("FlushVolume", "RefreshVolume", "SnapshotVolume", "AwaitVolumeClosed", "ListOpenVolumes");

  private final @Nullable PublicationAccess publications;

  ControlAccess(Optional<VolumeCatalog> catalog) {
    this.publications = catalog.map(PublicationAccess::new).orElse(null);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    SSLSession tls = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    Optional<String> caller = tls == null ? Optional.empty() : PeerIdentity.of(tls);
    if (tls == null) {
      return next.startCall(call, headers);
    }
    String rpc = call.getMethodDescriptor().getBareMethodName();
    var delegate = next.startCall(call, headers);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      private boolean refused;

      @Override
      public void onMessage(Q message) {
        String why = caller.isEmpty() ? "the client certificate names nobody (no CN)"
            : refusal(caller.get(), rpc, message);
        if (why != null) {
          refused = true;
          log.warn("control: refused {} to {} from {}: {}", rpc, caller.orElse("?"),
              call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), why);
          call.close(Status.PERMISSION_DENIED.withDescription(rpc + " refused to " + caller.orElse("a nameless peer")
              + ": " + why), new Metadata());
          return;
        }
        super.onMessage(message);
      }

      @Override
      public void onHalfClose() {
        if (!refused) {
          super.onHalfClose();
        }
      }
    };
  }

  /** Why {@code caller} may not make this call, or null when it may. */
  @Nullable String refusal(String caller, String rpc, Object request) {
    if (caller.equals(PeerIdentity.CONTROLLER)) {
      return CONTROLLER_RPCS.contains(rpc) ? null : "the controller does not make this call";
    }
    return switch (request) {
      case CreateEphemeralVolumeRequest r -> r.getNodeId().equals(caller) ? null
          : "a node creates ephemeral volumes only for itself, not for node '" + r.getNodeId() + "'";
      case DeleteEphemeralVolumeRequest r -> publishedTo(caller, r.getVolumeId());
      case FlushVolumeRequest r -> publishedTo(caller, r.getVolumeId());
      case AwaitVolumeClosedRequest r -> publishedTo(caller, r.getVolumeId());
      default -> "a node may not call " + rpc;
    };
  }

  private @Nullable String publishedTo(String node, String volumeId) {
    if (publications == null) {
      return "this gateway has no store catalog to check publications in";
    }
    try {
      return publications.refusal(node, volumeId).orElse(null);
    } catch (IOException e) {
      return "cannot check the publications of " + volumeId + " now: " + e.getMessage();
    }
  }
}
