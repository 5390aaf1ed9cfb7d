package io.bucketdisk.controller;

import com.google.protobuf.Int64Value;
import com.google.protobuf.Timestamp;
import io.bucketdisk.proto.csi.ControllerExpandVolumeRequest;
import io.bucketdisk.proto.csi.ControllerExpandVolumeResponse;
import io.bucketdisk.proto.csi.ControllerGetCapabilitiesRequest;
import io.bucketdisk.proto.csi.ControllerGetCapabilitiesResponse;
import io.bucketdisk.proto.csi.ControllerGetVolumeRequest;
import io.bucketdisk.proto.csi.ControllerGetVolumeResponse;
import io.bucketdisk.proto.csi.ControllerGrpc;
import io.bucketdisk.proto.csi.ControllerModifyVolumeRequest;
import io.bucketdisk.proto.csi.ControllerModifyVolumeResponse;
import io.bucketdisk.proto.csi.ControllerPublishVolumeRequest;
import io.bucketdisk.proto.csi.ControllerPublishVolumeResponse;
import io.bucketdisk.proto.csi.ControllerServiceCapability;
import io.bucketdisk.proto.csi.ControllerServiceCapability.RPC.Type;
import io.bucketdisk.proto.csi.ControllerUnpublishVolumeRequest;
import io.bucketdisk.proto.csi.ControllerUnpublishVolumeResponse;
import io.bucketdisk.proto.csi.CreateSnapshotRequest;
import io.bucketdisk.proto.csi.CreateSnapshotResponse;
import io.bucketdisk.proto.csi.CreateVolumeRequest;
import io.bucketdisk.proto.csi.CreateVolumeResponse;
import io.bucketdisk.proto.csi.DeleteSnapshotRequest;
import io.bucketdisk.proto.csi.DeleteSnapshotResponse;
import io.bucketdisk.proto.csi.DeleteVolumeRequest;
import io.bucketdisk.proto.csi.DeleteVolumeResponse;
import io.bucketdisk.proto.csi.GetCapacityRequest;
import io.bucketdisk.proto.csi.GetCapacityResponse;
import io.bucketdisk.proto.csi.GetSnapshotRequest;
import io.bucketdisk.proto.csi.GetSnapshotResponse;
import io.bucketdisk.proto.csi.ListSnapshotsRequest;
import io.bucketdisk.proto.csi.ListSnapshotsResponse;
import io.bucketdisk.proto.csi.ListVolumesRequest;
import io.bucketdisk.proto.csi.ListVolumesResponse;
import io.bucketdisk.proto.csi.Snapshot;
import io.bucketdisk.proto.csi.ValidateVolumeCapabilitiesRequest;
import io.bucketdisk.proto.csi.ValidateVolumeCapabilitiesResponse;
import io.bucketdisk.proto.csi.Volume;
import io.bucketdisk.proto.csi.VolumeCapability;
import io.bucketdisk.proto.csi.VolumeCapability.AccessMode.Mode;
import io.bucketdisk.proto.csi.VolumeContentSource;
import io.bucketdisk.store.layout.SnapshotRecord;
import io.bucketdisk.store.layout.VolumeManifest;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * CSI Controller service. Each handler follows one recipe: check the request against the spec's field rules
 * (INVALID_ARGUMENT naming the field), call {@link VolumeManager}, {@link SnapshotManager} or {@link PublishFencer},
 * build the reply; {@link ControllerErrors} turns failures into the spec's codes. Advertises everything in {@link
 * #CAPABILITIES}; ControllerModifyVolume is answered (no mutable parameters exist) but not advertised.
 */
final class ControllerService extends ControllerGrpc.ControllerImplBase {

  /** The controller capabilities bucketdisk advertises (all known to csi-test built on spec v1.12.0). */
  static final List<Type> CAPABILITIES = List.of(Type.CREATE_DELETE_VOLUME, Type.PUBLISH_UNPUBLISH_VOLUME,
      Type.LIST_VOLUMES, Type.GET_CAPACITY, Type.CREATE_DELETE_SNAPSHOT, Type.LIST_SNAPSHOTS, Type.CLONE_VOLUME,
      Type.PUBLISH_READONLY, Type.EXPAND_VOLUME, Type.LIST_VOLUMES_PUBLISHED_NODES, Type.GET_VOLUME,
      Type.GET_SNAPSHOT);
  /** What GetCapacity reports as available: the bucket has no quota of its own, so 1 PiB. */
  static final long AVAILABLE_CAPACITY = 1L << 50;
  private static final int MAX_NAME = 128;

  private final VolumeManager volumes;
  private final SnapshotManager snapshots;
  private final PublishFencer fencer;

  ControllerService(VolumeManager volumes, SnapshotManager snapshots, PublishFencer fencer) {
    this.volumes = volumes;
    this.snapshots = snapshots;
    this.fencer = fencer;
  }

  // ---- volumes ------------------------------------------------------------------------------------------------

  @Override
  public void createVolume(CreateVolumeRequest req, StreamObserver<CreateVolumeResponse> out) {
    ControllerErrors.reply("CreateVolume", out, () -> {
      String name = required(req.getName(), "name");
      if (name.length() > MAX_NAME) {
        throw VolumeError.invalid("name is " + name.length() + " characters; at most " + MAX_NAME + " allowed");
      }
      if (req.getVolumeCapabilitiesCount() == 0) {
        throw VolumeError.invalid("volume_capabilities is required");
      }
      String fsType = null;
      boolean block = false;
      boolean mount = false;
      for (var cap : req.getVolumeCapabilitiesList()) {
        unsupported(cap).ifPresent(why -> {
          throw VolumeError.invalid(why);
        });
        if (cap.hasMount()) {
          mount = true;
          if (!cap.getMount().getFsType().isEmpty()) {
            fsType = cap.getMount().getFsType();
          }
        } else {
          block = true;
        }
      }
      VolumeManager.Source source = null;
      if (req.hasVolumeContentSource()) {
        var src = req.getVolumeContentSource();
        source = switch (src.getTypeCase()) {
          case SNAPSHOT -> new VolumeManager.Source(VolumeManager.Source.Kind.SNAPSHOT,
              required(src.getSnapshot().getSnapshotId(), "volume_content_source.snapshot.snapshot_id"));
          case VOLUME -> new VolumeManager.Source(VolumeManager.Source.Kind.VOLUME,
              required(src.getVolume().getVolumeId(), "volume_content_source.volume.volume_id"));
          case TYPE_NOT_SET -> throw VolumeError.invalid("volume_content_source needs a snapshot or a volume");
        };
      }
      if (!req.getMutableParamsMap().isEmpty()) {
        throw VolumeError.invalid("mutable_parameters are not supported by " + IdentityService.NAME);
      }
      var range = req.getCapacityRange();
      var m = volumes.create(new VolumeManager.CreateRequest(name, range.getRequiredBytes(), range.getLimitBytes(),
          req.getParametersMap(), mount ? (fsType == null ? "ext4" : fsType) : null,
          block && mount ? "block+mount" : mount ? "mount" : "block", source));
      return CreateVolumeResponse.newBuilder().setVolume(volume(m)).build();
    });
  }

  @Override
  public void deleteVolume(DeleteVolumeRequest req, StreamObserver<DeleteVolumeResponse> out) {
    ControllerErrors.reply("DeleteVolume", out, () -> {
      volumes.delete(required(req.getVolumeId(), "volume_id"));
      return DeleteVolumeResponse.getDefaultInstance();
    });
  }

  @Override
  public void controllerPublishVolume(ControllerPublishVolumeRequest req,
      StreamObserver<ControllerPublishVolumeResponse> out) {
    ControllerErrors.reply("ControllerPublishVolume", out, () -> {
      String volumeId = required(req.getVolumeId(), "volume_id");
      String nodeId = required(req.getNodeId(), "node_id");
      if (!req.hasVolumeCapability()) {
        throw VolumeError.invalid("volume_capability is required");
      }
      unsupported(req.getVolumeCapability()).ifPresent(why -> {
        throw VolumeError.invalid(why);
      });
      var ctx = fencer.publish(volumeId, nodeId, req.getReadonly(), req.getVolumeCapability().getAccessMode()
          .getMode());
      return ControllerPublishVolumeResponse.newBuilder().putAllPublishContext(ctx).build();
    });
  }

  @Override
  public void controllerUnpublishVolume(ControllerUnpublishVolumeRequest req,
      StreamObserver<ControllerUnpublishVolumeResponse> out) {
    ControllerErrors.reply("ControllerUnpublishVolume", out, () -> {
      fencer.unpublish(required(req.getVolumeId(), "volume_id"), req.getNodeId());
      return ControllerUnpublishVolumeResponse.getDefaultInstance();
    });
  }

  @Override
  public void validateVolumeCapabilities(ValidateVolumeCapabilitiesRequest req,
      StreamObserver<ValidateVolumeCapabilitiesResponse> out) {
    ControllerErrors.reply("ValidateVolumeCapabilities", out, () -> {
      String volumeId = required(req.getVolumeId(), "volume_id");
      if (req.getVolumeCapabilitiesCount() == 0) {
        throw VolumeError.invalid("volume_capabilities is required");
      }
      var m = volumes.require(volumeId);
      var reply = ValidateVolumeCapabilitiesResponse.newBuilder();
      for (var cap : req.getVolumeCapabilitiesList()) {
        var why = unsupported(cap);
        if (why.isPresent()) {
          return reply.setMessage(why.get()).build();
        }
      }
      try {
        VolumeParameters.parse(req.getParametersMap(), null);
      } catch (VolumeError e) {
        return reply.setMessage(e.getMessage()).build();
      }
      return reply.setConfirmed(ValidateVolumeCapabilitiesResponse.Confirmed.newBuilder()
          .putAllVolumeContext(VolumeManager.volumeContext(m))
          .addAllVolumeCapabilities(req.getVolumeCapabilitiesList())
          .putAllParameters(req.getParametersMap())).build();
    });
  }

  @Override
  public void listVolumes(ListVolumesRequest req, StreamObserver<ListVolumesResponse> out) {
    ControllerErrors.reply("ListVolumes", out, () -> {
      var page = volumes.list(req.getMaxEntries(), req.getStartingToken());
      var reply = ListVolumesResponse.newBuilder();
      for (var m : page.items()) {
        reply.addEntries(ListVolumesResponse.Entry.newBuilder().setVolume(volume(m))
            .setStatus(ListVolumesResponse.VolumeStatus.newBuilder()
                .addAllPublishedNodeIds(m.publications().keySet().stream().sorted().toList())));
      }
      if (page.nextToken() != null) {
        reply.setNextToken(page.nextToken());
      }
      return reply.build();
    });
  }

  @Override
  public void controllerGetVolume(ControllerGetVolumeRequest req, StreamObserver<ControllerGetVolumeResponse> out) {
    ControllerErrors.reply("ControllerGetVolume", out, () -> {
      var m = volumes.require(required(req.getVolumeId(), "volume_id"));
      return ControllerGetVolumeResponse.newBuilder().setVolume(volume(m))
          .setStatus(ControllerGetVolumeResponse.VolumeStatus.newBuilder()
              .addAllPublishedNodeIds(m.publications().keySet().stream().sorted().toList()))
          .build();
    });
  }

  @Override
  public void getCapacity(GetCapacityRequest req, StreamObserver<GetCapacityResponse> out) {
    ControllerErrors.reply("GetCapacity", out, () -> {
      for (var cap : req.getVolumeCapabilitiesList()) {
        if (unsupported(cap).isPresent()) {
          return GetCapacityResponse.newBuilder().setAvailableCapacity(0).build();
        }
      }
      VolumeParameters.parse(req.getParametersMap(), null);
      return GetCapacityResponse.newBuilder().setAvailableCapacity(AVAILABLE_CAPACITY)
          .setMaximumVolumeSize(Int64Value.of(Capacity.MAX_SIZE))
          .setMinimumVolumeSize(Int64Value.of(Capacity.GRANULARITY)).build();
    });
  }

  @Override
  public void controllerGetCapabilities(ControllerGetCapabilitiesRequest req,
      StreamObserver<ControllerGetCapabilitiesResponse> out) {
    ControllerErrors.reply("ControllerGetCapabilities", out, () -> {
      var reply = ControllerGetCapabilitiesResponse.newBuilder();
      for (Type t : CAPABILITIES) {
        reply.addCapabilities(ControllerServiceCapability.newBuilder()
            .setRpc(ControllerServiceCapability.RPC.newBuilder().setType(t)));
      }
      return reply.build();
    });
  }

  @Override
  public void controllerExpandVolume(ControllerExpandVolumeRequest req,
      StreamObserver<ControllerExpandVolumeResponse> out) {
    ControllerErrors.reply("ControllerExpandVolume", out, () -> {
      String volumeId = required(req.getVolumeId(), "volume_id");
      if (!req.hasCapacityRange()) {
        throw VolumeError.invalid("capacity_range is required");
      }
      if (req.hasVolumeCapability()) {
        unsupported(req.getVolumeCapability()).ifPresent(why -> {
          throw VolumeError.invalid(why);
        });
      }
      var m = volumes.expand(volumeId, req.getCapacityRange().getRequiredBytes(),
          req.getCapacityRange().getLimitBytes());
      boolean mount = req.hasVolumeCapability() ? req.getVolumeCapability().hasMount()
          : m.parameters().getOrDefault(VolumeManager.ACCESS_KEY, "block").contains("mount");
      return ControllerExpandVolumeResponse.newBuilder().setCapacityBytes(m.sizeBytes())
          .setNodeExpansionRequired(mount).build();
    });
  }

  @Override
  public void controllerModifyVolume(ControllerModifyVolumeRequest req,
      StreamObserver<ControllerModifyVolumeResponse> out) {
    ControllerErrors.reply("ControllerModifyVolume", out, () -> {
      volumes.require(required(req.getVolumeId(), "volume_id"));
      if (!req.getMutableParametersMap().isEmpty()) {
        throw VolumeError.invalid("mutable parameter '" + req.getMutableParametersMap().keySet().iterator().next()
            + "' is not supported: " + IdentityService.NAME + " has no mutable parameters");
      }
      return ControllerModifyVolumeResponse.getDefaultInstance();
    });
  }

  // ---- snapshots ----------------------------------------------------------------------------------------------

  @Override
  public void createSnapshot(CreateSnapshotRequest req, StreamObserver<CreateSnapshotResponse> out) {
    ControllerErrors.reply("CreateSnapshot", out, () -> {
      String name = required(req.getName(), "name");
      String source = required(req.getSourceVolumeId(), "source_volume_id");
      if (name.length() > MAX_NAME) {
        throw VolumeError.invalid("name is " + name.length() + " characters; at most " + MAX_NAME + " allowed");
      }
      if (!req.getParametersMap().isEmpty()) {
        throw VolumeError.invalid("snapshot parameter '" + req.getParametersMap().keySet().iterator().next()
            + "' is not supported (snapshots take no parameters)");
      }
      return CreateSnapshotResponse.newBuilder().setSnapshot(snapshot(snapshots.create(name, source))).build();
    });
  }

  @Override
  public void deleteSnapshot(DeleteSnapshotRequest req, StreamObserver<DeleteSnapshotResponse> out) {
    ControllerErrors.reply("DeleteSnapshot", out, () -> {
      snapshots.delete(required(req.getSnapshotId(), "snapshot_id"));
      return DeleteSnapshotResponse.getDefaultInstance();
    });
  }

  @Override
  public void listSnapshots(ListSnapshotsRequest req, StreamObserver<ListSnapshotsResponse> out) {
    ControllerErrors.reply("ListSnapshots", out, () -> {
      var page = snapshots.list(emptyToNull(req.getSnapshotId()), emptyToNull(req.getSourceVolumeId()),
          req.getMaxEntries(), req.getStartingToken());
      var reply = ListSnapshotsResponse.newBuilder();
      for (var s : page.items()) {
        reply.addEntries(ListSnapshotsResponse.Entry.newBuilder().setSnapshot(snapshot(s)));
      }
      if (page.nextToken() != null) {
        reply.setNextToken(page.nextToken());
      }
      return reply.build();
    });
  }

  @Override
  public void getSnapshot(GetSnapshotRequest req, StreamObserver<GetSnapshotResponse> out) {
    ControllerErrors.reply("GetSnapshot", out, () -> {
      String id = required(req.getSnapshotId(), "snapshot_id");
      var s = snapshots.get(id).orElseThrow(() -> VolumeError.notFound("snapshot " + id + " does not exist"));
      return GetSnapshotResponse.newBuilder().setSnapshot(snapshot(s)).build();
    });
  }

  // ---- helpers ------------------------------------------------------------------------------------------------

  /** Why bucketdisk cannot serve {@code cap}, or empty when it can. */
  static Optional<String> unsupported(VolumeCapability cap) {
    if (!cap.hasBlock() && !cap.hasMount()) {
      return Optional.of("volume capability needs an access type (block or mount)");
    }
    if (!cap.hasAccessMode()) {
      return Optional.of("volume capability needs an access_mode");
    }
    Mode mode = cap.getAccessMode().getMode();
    switch (mode) {
      case SINGLE_NODE_WRITER, SINGLE_NODE_READER_ONLY, MULTI_NODE_READER_ONLY, SINGLE_NODE_SINGLE_WRITER -> { }
      case MULTI_NODE_MULTI_WRITER, MULTI_NODE_SINGLE_WRITER -> {
        // Several nodes writing, or one writing while others read, needs every node served by the one gateway that
        // holds the volume (over mutual TLS); that is not built yet, so these modes are refused, not half served.
        return Optional.of("access mode " + mode + " is not supported: a volume is written from one node at a time "
            + "(use SINGLE_NODE_WRITER, or MULTI_NODE_READER_ONLY for many readers of an image nobody writes)");
      }
      default -> {
        return Optional.of("access mode " + mode + " is not supported");
      }
    }
    if (cap.hasMount()) {
      String fs = cap.getMount().getFsType();
      if (!fs.isEmpty() && !fs.equals("ext4") && !fs.equals("xfs")) {
        return Optional.of("fs_type " + fs + " is not supported (use ext4 or xfs)");
      }
    }
    return Optional.empty();
  }

  static Volume volume(VolumeManifest m) {
    var v = Volume.newBuilder().setVolumeId(m.id()).setCapacityBytes(m.sizeBytes())
        .putAllVolumeContext(VolumeManager.volumeContext(m));
    var source = VolumeManager.sourceOf(m);
    if (source != null) {
      v.setContentSource(switch (source.kind()) {
        case SNAPSHOT -> VolumeContentSource.newBuilder()
            .setSnapshot(VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId(source.id()));
        case VOLUME -> VolumeContentSource.newBuilder()
            .setVolume(VolumeContentSource.VolumeSource.newBuilder().setVolumeId(source.id()));
      });
    }
    return v.build();
  }

  static Snapshot snapshot(SnapshotRecord s) {
    long ms = s.createdAtMillis();
    return Snapshot.newBuilder().setSnapshotId(s.id()).setSourceVolumeId(s.volumeId()).setSizeBytes(s.sizeBytes())
        .setReadyToUse(true)
        .setCreationTime(Timestamp.newBuilder().setSeconds(Math.floorDiv(ms, 1000))
            .setNanos((int) Math.floorMod(ms, 1000) * 1_000_000))
        .build();
  }

  private static String required(String value, String field) {
    if (value.isEmpty()) {
      throw VolumeError.invalid(field + " is required");
    }
    return value;
  }

  private static @Nullable String emptyToNull(String s) {
    return s.isEmpty() ? null : s;
  }
}
