package io.bucketdisk.nbd.control;

import io.bucketdisk.nbd.cache.VolumeExportProvider;
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
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The GatewayControl RPCs over a {@link VolumeExportProvider}. Thread safe; each call runs on its own thread. */
public final class GatewayControlService extends GatewayControlGrpc.GatewayControlImplBase {
  private static final Logger log = LoggerFactory.getLogger(GatewayControlService.class);
  private final VolumeExportProvider volumes;

  public GatewayControlService(VolumeExportProvider volumes) {
    this.volumes = volumes;
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
    for (VolumeExportProvider.OpenVolume v : volumes.openVolumes()) {
      b.addVolumes(OpenVolume.newBuilder().setVolumeId(v.name()).setConnections(v.connections())
          .setDirtyBytes(v.dirtyBytes()).setSizeBytes(v.sizeBytes()));
    }
    reply(out, b.build());
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
    Status s;
    if (e instanceof StoreException se) {
      s = switch (se.kind()) {
        case CONFLICT -> Status.FAILED_PRECONDITION;
        case NOT_FOUND -> Status.NOT_FOUND;
        case TRANSIENT -> Status.UNAVAILABLE;
        case PERMANENT -> Status.INTERNAL;
      };
    } else if (e instanceof IOException) {
      s = Status.UNAVAILABLE;
    } else if (e instanceof IllegalArgumentException) {
      s = Status.INVALID_ARGUMENT;
    } else {
      s = Status.INTERNAL;
    }
    return s.withDescription(what + ": " + e.getMessage()).withCause(e).asRuntimeException();
  }
}
