package io.bucketdisk.nbd.control;

import io.bucketdisk.rpc.GrpcErrors;
import io.bucketdisk.engine.volume.VolumeRegistry;
import io.bucketdisk.proto.gateway.AwaitVolumeClosedRequest;
import io.bucketdisk.proto.gateway.AwaitVolumeClosedResponse;
import io.bucketdisk.proto.gateway.CreateEphemeralVolumeRequest;
import io.bucketdisk.proto.gateway.CreateEphemeralVolumeResponse;
import io.bucketdisk.proto.gateway.DeleteEphemeralVolumeRequest;
import io.bucketdisk.proto.gateway.DeleteEphemeralVolumeResponse;
import io.bucketdisk.proto.gateway.FlushVolumeRequest;
import io.bucketdisk.proto.gateway.FlushVolumeResponse;
import io.bucketdisk.proto.gateway.GatewayControlGrpc;
import io.bucketdisk.proto.gateway.ListOpenVolumesRequest;
import io.bucketdisk.proto.gateway.ListOpenVolumesResponse;
import io.bucketdisk.proto.gateway.OpenVolume;
import io.bucketdisk.proto.gateway.RefreshVolumeRequest;
import io.bucketdisk.proto.gateway.RefreshVolumeResponse;
import io.bucketdisk.proto.gateway.SnapshotVolumeRequest;
import io.bucketdisk.proto.gateway.SnapshotVolumeResponse;
import io.bucketdisk.store.StoreException;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.VolumeIds;
import io.bucketdisk.store.VolumeSpec;
import io.bucketdisk.store.layout.VolumeManifest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The GatewayControl RPCs over the engine's {@link VolumeRegistry}. Thread safe; each call runs on its own thread.
 * CreateEphemeralVolume and DeleteEphemeralVolume need the provider's store catalog (FAILED_PRECONDITION without one);
 * the first records the asking node's publication in the manifest, the second removes it before deleting.
 */
public final class GatewayControlService extends GatewayControlGrpc.GatewayControlImplBase {
  private static final Logger log = LoggerFactory.getLogger(GatewayControlService.class);
  private final VolumeRegistry volumes;
  private final Duration disconnectWait;

  public GatewayControlService(VolumeRegistry volumes) {
    this(volumes, Duration.ofSeconds(15));
  }

  /** As above; DeleteEphemeralVolume waits up to {@code disconnectWait} for the volume's connections to end. */
  public GatewayControlService(VolumeRegistry volumes, Duration disconnectWait) {
    this.volumes = volumes;
    this.disconnectWait = disconnectWait;
  }

  @Override
  public void flushVolume(FlushVolumeRequest request, StreamObserver<FlushVolumeResponse> out) {
    try {
      String id = requireId(request.getVolumeId());
      boolean open = volumes.flushVolume(id);
      log.info("control: FlushVolume {} (open here: {})", id, open);
      reply(out, FlushVolumeResponse.newBuilder().setWasOpen(open).build());
    } catch (IOException | RuntimeException e) {
      out.onError(status(e, "FlushVolume " + request.getVolumeId()));
    }
  }

  @Override
  public void refreshVolume(RefreshVolumeRequest request, StreamObserver<RefreshVolumeResponse> out) {
    try {
      String id = requireId(request.getVolumeId());
      Optional<Long> size = volumes.refreshVolume(id);
      log.info("control: RefreshVolume {} (size now {})", id, size.map(String::valueOf).orElse("not open"));
      reply(out, RefreshVolumeResponse.newBuilder().setWasOpen(size.isPresent()).setSizeBytes(size.orElse(0L)).build());
    } catch (IOException | RuntimeException e) {
      out.onError(status(e, "RefreshVolume " + request.getVolumeId()));
    }
  }

  @Override
  public void snapshotVolume(SnapshotVolumeRequest request, StreamObserver<SnapshotVolumeResponse> out) {
    try {
      String id = requireId(request.getVolumeId());
      if (request.getSnapshotId().isEmpty()) {
        throw Status.INVALID_ARGUMENT.withDescription("snapshot_id is empty").asRuntimeException();
      }
      boolean open = volumes.snapshotVolume(id, request.getSnapshotId());
      log.info("control: SnapshotVolume {} as {} (open here: {})", id, request.getSnapshotId(), open);
      reply(out, SnapshotVolumeResponse.newBuilder().setWasOpen(open).build());
    } catch (IOException | RuntimeException e) {
      out.onError(status(e, "SnapshotVolume " + request.getVolumeId()));
    }
  }

  @Override
  public void listOpenVolumes(ListOpenVolumesRequest request, StreamObserver<ListOpenVolumesResponse> out) {
    var b = ListOpenVolumesResponse.newBuilder();
    for (VolumeRegistry.OpenVolume v : volumes.openVolumes()) {
      b.addVolumes(OpenVolume.newBuilder().setVolumeId(v.name()).setConnections(v.connections())
          .setDirtyBytes(v.dirtyBytes()).setSizeBytes(v.sizeBytes()));
    }
    reply(out, b.build());
  }

  @Override
  public void createEphemeralVolume(CreateEphemeralVolumeRequest request,
      StreamObserver<CreateEphemeralVolumeResponse> out) {
    try {
      String name = request.getName();
      if (name.isEmpty()) {
        throw Status.INVALID_ARGUMENT.withDescription("name is empty").asRuntimeException();
      }
      if (request.getSizeBytes() <= 0) {
        throw Status.INVALID_ARGUMENT.withDescription("size_bytes must be positive").asRuntimeException();
      }
      VolumeCatalog catalog = catalog();
      String id = VolumeIds.forName(name);
      int chunk = request.getChunkSize() == 0 ? VolumeSpec.DEFAULT_CHUNK_SIZE : request.getChunkSize();
      var parameters = new HashMap<>(request.getParametersMap());
      parameters.put(VolumeIds.NAME_KEY, name);
      parameters.put(VolumeIds.EPHEMERAL_KEY, "true");
      Optional<VolumeManifest> existing = catalog.get(id);
      VolumeManifest m;
      if (existing.isPresent()) {
        m = existing.get();
      } else {
        try {
          m = catalog.create(new VolumeSpec(id, request.getSizeBytes(), chunk, parameters));
          log.info("control: CreateEphemeralVolume {}: created {} bytes, chunk {} bytes, for '{}'", id, m.sizeBytes(),
              m.chunkSize(), name);
        } catch (StoreException e) {
          if (e.kind() != StoreException.Kind.CONFLICT) {
            throw e;
          }
          // lost a race with another creator, or the id belongs to a volume kept hidden for its snapshots
          m = catalog.get(id).orElseThrow(() -> Status.ALREADY_EXISTS.withDescription("volume id " + id
              + " (from name '" + name + "') belongs to a deleted volume still kept for its snapshots")
              .asRuntimeException());
        }
      }
      if (!VolumeIds.isEphemeral(m) || !name.equals(m.parameters().get(VolumeIds.NAME_KEY))) {
        throw Status.ALREADY_EXISTS.withDescription("volume id " + id + " (from name '" + name
            + "') is taken by another volume").asRuntimeException();
      }
      if (m.sizeBytes() != request.getSizeBytes() || m.chunkSize() != chunk) {
        throw Status.ALREADY_EXISTS.withDescription("ephemeral volume " + id + " for '" + name + "' exists with "
            + m.sizeBytes() + " bytes, chunk " + m.chunkSize() + " bytes; asked for " + request.getSizeBytes()
            + " bytes, chunk " + chunk).asRuntimeException();
      }
      String node = request.getNodeId();
      if (!node.isEmpty() && !m.publications().containsKey(node)) {
        // exclusive writer: an inline volume belongs to one pod, so to one node
        catalog.publish(id, node, false, true);
        log.info("control: CreateEphemeralVolume {}: published to node {}", id, node);
      }
      reply(out, CreateEphemeralVolumeResponse.newBuilder().setVolumeId(id).setSizeBytes(m.sizeBytes()).build());
    } catch (IOException | RuntimeException e) {
      out.onError(status(e, "CreateEphemeralVolume " + request.getName()));
    }
  }

  @Override
  public void deleteEphemeralVolume(DeleteEphemeralVolumeRequest request,
      StreamObserver<DeleteEphemeralVolumeResponse> out) {
    try {
      String id = requireId(request.getVolumeId());
      VolumeCatalog catalog = catalog();
      Optional<VolumeManifest> m = catalog.get(id);
      if (m.isEmpty()) {
        reply(out, DeleteEphemeralVolumeResponse.newBuilder().setExisted(false).build());
        return;
      }
      if (!VolumeIds.isEphemeral(m.get())) {
        throw Status.FAILED_PRECONDITION.withDescription("volume " + id
            + " is not an ephemeral inline volume; delete it through the controller").asRuntimeException();
      }
      // The node detached it just before: its connections end in a moment, then the volume closes here (a flush
      // with nothing left to write, since the filesystem was unmounted) and releases its lease.
      int connections = volumes.awaitClosed(id, disconnectWait);
      if (connections > 0) {
        throw Status.FAILED_PRECONDITION.withDescription("volume " + id + " still has " + connections
            + " connection(s) on this gateway after " + disconnectWait.toSeconds() + " s; detach it first")
            .asRuntimeException();
      }
      for (String node : m.get().publications().keySet()) {
        catalog.unpublish(id, node);
      }
      catalog.delete(id);
      log.info("control: DeleteEphemeralVolume {}: unpublished from {} and deleted", id,
          m.get().publications().keySet());
      reply(out, DeleteEphemeralVolumeResponse.newBuilder().setExisted(true).build());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      out.onError(Status.CANCELLED.withDescription("interrupted").asRuntimeException());
    } catch (IOException | RuntimeException e) {
      out.onError(status(e, "DeleteEphemeralVolume " + request.getVolumeId()));
    }
  }

  @Override
  public void awaitVolumeClosed(AwaitVolumeClosedRequest request, StreamObserver<AwaitVolumeClosedResponse> out) {
    try {
      String id = requireId(request.getVolumeId());
      long millis = Math.min(Math.max(request.getTimeoutMs(), 0), 60_000);
      int connections = volumes.awaitClosed(id, Duration.ofMillis(millis));
      log.info("control: AwaitVolumeClosed {}: {}", id, connections == 0 ? "closed" : connections + " still open");
      reply(out, AwaitVolumeClosedResponse.newBuilder().setConnections(connections).build());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      out.onError(Status.CANCELLED.withDescription("interrupted").asRuntimeException());
    } catch (RuntimeException e) {
      out.onError(status(e, "AwaitVolumeClosed " + request.getVolumeId()));
    }
  }

  private VolumeCatalog catalog() {
    return volumes.catalog().orElseThrow(() -> Status.FAILED_PRECONDITION
        .withDescription("this gateway serves no store catalog; ephemeral volumes need one").asRuntimeException());
  }

  private static String requireId(String id) {
    if (id.isEmpty()) {
      throw Status.INVALID_ARGUMENT.withDescription("volume_id is empty").asRuntimeException();
    }
    return id;
  }

  private static <T> void reply(StreamObserver<T> out, T value) {
    out.onNext(value);
    out.onCompleted();
  }

  private static StatusRuntimeException status(Exception e, String what) {
    if (e instanceof StatusRuntimeException s) {
      return s;
    }
    log.warn("control: {} failed: {}", what, e.toString());
    return GrpcErrors.toStatus(what, e).asRuntimeException();
  }

}
