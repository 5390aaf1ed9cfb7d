package io.bucketdisk.node;

import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.proto.csi.NodeExpandVolumeRequest;
import io.bucketdisk.proto.csi.NodeExpandVolumeResponse;
import io.bucketdisk.proto.csi.NodeGetCapabilitiesRequest;
import io.bucketdisk.proto.csi.NodeGetCapabilitiesResponse;
import io.bucketdisk.proto.csi.NodeGetInfoRequest;
import io.bucketdisk.proto.csi.NodeGetInfoResponse;
import io.bucketdisk.proto.csi.NodeGetVolumeStatsRequest;
import io.bucketdisk.proto.csi.NodeGetVolumeStatsResponse;
import io.bucketdisk.proto.csi.NodeGrpc;
import io.bucketdisk.proto.csi.NodePublishVolumeRequest;
import io.bucketdisk.proto.csi.NodePublishVolumeResponse;
import io.bucketdisk.proto.csi.NodeServiceCapability;
import io.bucketdisk.proto.csi.NodeStageVolumeRequest;
import io.bucketdisk.proto.csi.NodeStageVolumeResponse;
import io.bucketdisk.proto.csi.NodeUnpublishVolumeRequest;
import io.bucketdisk.proto.csi.NodeUnpublishVolumeResponse;
import io.bucketdisk.proto.csi.NodeUnstageVolumeRequest;
import io.bucketdisk.proto.csi.NodeUnstageVolumeResponse;
import io.bucketdisk.proto.csi.Topology;
import io.bucketdisk.proto.csi.VolumeCapability.AccessMode.Mode;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CSI Node service (spec v1.12.0): stage = attach (N connections) + mkfs-if-blank + mount; publish = bind mount
 * (a device file for block); expand = RECONFIGURE the size + online filesystem grow. Every RPC is idempotent
 * and returns the spec's codes (reference csi.md §2.2). One RPC per volume at a time: a concurrent one gets
 * ABORTED. State changes are persisted through {@link StagingState} before the RPC returns, so a restarted
 * plugin can unpublish and unstage what an earlier process did. Thread-safe.
 *
 * <p>This class is the RPC surface: it checks each request's fields, runs one RPC per volume and maps every failure
 * through {@link NodeErrors}; it stages, unstages, publishes and unpublishes persistent volumes itself. The parts
 * behind it: {@link NodeVolumes} (the records, the node's volume limit), {@link VolumeAccess} (what a capability asks
 * for), {@link VolumeMounts} (format and mount decisions, unmount and detach), {@link EphemeralVolumes} (inline
 * volumes, created and deleted through the gateway) and {@link VolumeCapacity} (stats and expand).
 */
public final class NodeService extends NodeGrpc.NodeImplBase {
  private static final Logger log = LoggerFactory.getLogger(NodeService.class);
  static final String GATEWAY_KEY = "gatewayAddress";
  static final String TOPOLOGY_KEY = "topology.csi.bucketdisk.io/node";
  /** How long NodeUnstageVolume waits for the gateway to close the volume after the disconnect. */
  static final java.time.Duration UNSTAGE_CLOSE_WAIT = java.time.Duration.ofSeconds(30);

  private final String nodeId;
  private final long maxVolumes;
  private final NodeAttacher attacher;
  private final Mounter mounter;
  private final GatewayControl control;
  private final NodeVolumes volumes;
  private final VolumeMounts mounts;
  private final EphemeralVolumes ephemeral;
  private final VolumeCapacity capacity;
  private final Set<String> busy = ConcurrentHashMap.newKeySet();

  NodeService(String nodeId, long maxVolumes, NodeAttacher attacher, Mounter mounter, StagingState state,
      GatewayControl control) {
    this.nodeId = nodeId;
    this.maxVolumes = maxVolumes;
    this.attacher = attacher;
    this.mounter = mounter;
    this.control = control;
    this.volumes = new NodeVolumes(nodeId, maxVolumes, state);
    this.mounts = new VolumeMounts(attacher, mounter);
    this.ephemeral = new EphemeralVolumes(nodeId, volumes, attacher, mounter, mounts, control);
    this.capacity = new VolumeCapacity(volumes, attacher, mounter);
  }

  @FunctionalInterface
  private interface Body<T> {
    T run() throws Exception;
  }

  private <T> void call(String rpc, String volumeId, StreamObserver<T> out, Body<T> body) {
    if (volumeId.isEmpty()) {
      out.onError(NodeErrors.invalid(rpc + ": volume_id is required"));
      return;
    }
    if (!busy.add(volumeId)) {
      out.onError(Status.ABORTED.withDescription(rpc + " " + volumeId + ": another operation on this volume is in progress")
          .asRuntimeException());
      return;
    }
    T result = null;
    Throwable failure = null;
    try {
      result = body.run();
    } catch (Throwable t) {
      failure = t;
    } finally {
      busy.remove(volumeId); // before answering: the CO may send the next call as soon as it has the reply
    }
    if (failure != null) {
      out.onError(NodeErrors.toStatus(rpc, volumeId, failure));
      return;
    }
    out.onNext(result);
    out.onCompleted();
  }

  // ---- stage -------------------------------------------------------------------------------------------------

  @Override
  public void nodeStageVolume(NodeStageVolumeRequest req, StreamObserver<NodeStageVolumeResponse> out) {
    call("NodeStageVolume", req.getVolumeId(), out, () -> {
      String staging = req.getStagingTargetPath();
      if (staging.isEmpty()) {
        throw NodeErrors.invalid("staging_target_path is required");
      }
      if (!req.hasVolumeCapability()) {
        throw NodeErrors.invalid("volume_capability is required");
      }
      var cap = req.getVolumeCapability();
      var wanted = VolumeAccess.of(cap);
      var existing = volumes.get(req.getVolumeId());
      if (existing.isPresent()) {
        var v = existing.get();
        if (v.ephemeral()) {
          throw NodeErrors.precondition("volume " + v.volumeId() + " is an ephemeral inline volume published at "
              + v.stagingPath() + "; it cannot be staged");
        }
        if (!v.stagingPath().equals(staging) || v.block() != wanted.block() || !v.fsType().equals(wanted.fsType())
            || !v.accessMode().equals(wanted.accessMode())) {
          throw NodeErrors.alreadyExists("volume " + v.volumeId() + " is already staged at " + v.stagingPath()
              + " with a different capability");
        }
        if (attacher.serves(v.exportName(), v.deviceIndex()) && (v.block() || mounter.isMountPoint(staging))) {
          return NodeStageVolumeResponse.getDefaultInstance();
        }
        log.info("volume {}: staged record found but the device or mount is gone; staging again", v.volumeId());
        cleanupStage(v);
      }
      if (!Files.isDirectory(Path.of(staging))) {
        throw NodeErrors.invalid("staging_target_path " + staging + " does not exist or is not a directory");
      }
      volumes.checkRoom();
      var gateway = gateway(req.getPublishContextMap());
      // Every node of a MULTI_NODE_READER_ONLY volume reads it read-only from its own gateway, without the writer's
      // lease: the export "<volume>@" (the gateway refuses it while anybody holds the lease).
      String export = cap.getAccessMode().getMode() == Mode.MULTI_NODE_READER_ONLY ? req.getVolumeId() + "@"
          : req.getVolumeId();
      var attached = attacher.attach(export, gateway);
      var v = new StagedVolume(req.getVolumeId(), attached.index(), staging, wanted.block(), wanted.fsType(),
          wanted.mountFlags(), wanted.readOnly() || attached.export().readOnly(), wanted.accessMode(), gateway.toString(),
          Map.of(), export, false);
      volumes.put(v);
      try {
        if (!v.block()) {
          mounts.mount(v);
        }
      } catch (Exception e) {
        cleanupStage(v);
        throw e;
      }
      log.info("volume {} staged at {} ({})", v.volumeId(), staging, v.block() ? "block" : v.fsType());
      return NodeStageVolumeResponse.getDefaultInstance();
    });
  }

  /** The gateway the controller named in publish_context ({@value #GATEWAY_KEY}), else this node's own. */
  private Endpoint gateway(Map<String, String> publishContext) {
    String addr = publishContext.get(GATEWAY_KEY);
    if (addr == null || addr.isBlank()) {
      return attacher.defaultGateway();
    }
    try {
      return Endpoint.parse(addr);
    } catch (IllegalArgumentException e) {
      throw NodeErrors.invalid("publish_context " + GATEWAY_KEY + ": " + e.getMessage());
    }
  }

  // ---- unstage -----------------------------------------------------------------------------------------------

  @Override
  public void nodeUnstageVolume(NodeUnstageVolumeRequest req, StreamObserver<NodeUnstageVolumeResponse> out) {
    call("NodeUnstageVolume", req.getVolumeId(), out, () -> {
      if (req.getStagingTargetPath().isEmpty()) {
        throw NodeErrors.invalid("staging_target_path is required");
      }
      var v = volumes.get(req.getVolumeId());
      if (v.isEmpty()) {
        // Not staged here: OK by the spec. Still undo a mount left at the path by a crash before the record.
        return NodeUnstageVolumeResponse.getDefaultInstance();
      }
      if (v.get().ephemeral()) {
        throw NodeErrors.precondition("volume " + req.getVolumeId() + " is an ephemeral inline volume; unpublish it");
      }
      if (!v.get().publications().isEmpty()) {
        throw NodeErrors.precondition("volume " + req.getVolumeId() + " is still published at "
            + v.get().publications().keySet() + "; unpublish it first");
      }
      cleanupStage(v.get());
      awaitGatewayLetGo(v.get());
      log.info("volume {} unstaged from {}", req.getVolumeId(), v.get().stagingPath());
      return NodeUnstageVolumeResponse.getDefaultInstance();
    });
  }

  /**
   * After the disconnect, waits until this node's gateway has closed the volume (flushed, lease released), so the
   * DeleteVolume that may follow NodeUnstage and ControllerUnpublish finds it free. Only for this node's own
   * gateway (another gateway, named in publish_context, may still serve other nodes). A gateway that cannot be
   * reached holds nothing open here: that is logged, not an error.
   */
  private void awaitGatewayLetGo(StagedVolume v) {
    if (!v.gateway().equals(attacher.defaultGateway().toString())) {
      return;
    }
    int open;
    try {
      open = control.awaitClosed(v.exportName(), UNSTAGE_CLOSE_WAIT);
    } catch (io.grpc.StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.UNAVAILABLE) {
        throw e;
      }
      log.warn("volume {}: detached; the gateway's control API ({}) did not answer, so its close was not awaited: {}",
          v.volumeId(), control.address(), e.getStatus().getDescription());
      return;
    }
    if (open > 0) {
      throw Status.UNAVAILABLE.withDescription("volume " + v.volumeId() + " is detached here but the gateway still "
          + "has " + open + " connection(s) to it after " + UNSTAGE_CLOSE_WAIT.toSeconds() + " s; retry")
          .asRuntimeException();
    }
  }

  private void cleanupStage(StagedVolume v) throws IOException {
    mounts.unmountAndDetach(v);
    volumes.remove(v.volumeId());
  }

  // ---- publish -----------------------------------------------------------------------------------------------

  @Override
  public void nodePublishVolume(NodePublishVolumeRequest req, StreamObserver<NodePublishVolumeResponse> out) {
    call("NodePublishVolume", req.getVolumeId(), out, () -> {
      String target = req.getTargetPath();
      if (target.isEmpty()) {
        throw NodeErrors.invalid("target_path is required");
      }
      if (!req.hasVolumeCapability()) {
        throw NodeErrors.invalid("volume_capability is required");
      }
      if (EphemeralAttributes.isEphemeral(req.getVolumeContextMap())) {
        ephemeral.publish(req);
        return NodePublishVolumeResponse.getDefaultInstance();
      }
      if (req.getStagingTargetPath().isEmpty()) {
        throw NodeErrors.precondition("staging_target_path is required: this plugin stages volumes (STAGE_UNSTAGE_VOLUME)");
      }
      var wanted = VolumeAccess.of(req.getVolumeCapability());
      var v = volumes.staged(req.getVolumeId());
      if (v.ephemeral()) {
        throw NodeErrors.precondition("volume " + v.volumeId() + " is an ephemeral inline volume; it cannot be staged");
      }
      if (!v.stagingPath().equals(req.getStagingTargetPath())) {
        throw NodeErrors.precondition("volume " + v.volumeId() + " is staged at " + v.stagingPath() + ", not at "
            + req.getStagingTargetPath());
      }
      if (v.block() != wanted.block()) {
        throw NodeErrors.precondition("volume " + v.volumeId() + " was staged for " + (v.block() ? "block" : "mount")
            + " access");
      }
      boolean ro = req.getReadonly() || v.readOnly();
      Boolean published = v.publications().get(target);
      if (published != null) {
        if (published != ro) {
          throw NodeErrors.alreadyExists("volume " + v.volumeId() + " is already published at " + target
              + " with readonly=" + published);
        }
        if (mounter.isMountPoint(target)) {
          return NodePublishVolumeResponse.getDefaultInstance();
        }
      }
      Path t = Path.of(target);
      if (v.block()) {
        if (!Files.exists(t, LinkOption.NOFOLLOW_LINKS)) {
          Files.createFile(t);
        }
        mounter.bindMount(v.device(), target, ro);
      } else {
        Files.createDirectories(t);
        mounter.bindMount(v.stagingPath(), target, ro);
      }
      volumes.put(v.withPublication(target, ro));
      log.info("volume {} published at {}{}", v.volumeId(), target, ro ? " (read-only)" : "");
      return NodePublishVolumeResponse.getDefaultInstance();
    });
  }

  @Override
  public void nodeUnpublishVolume(NodeUnpublishVolumeRequest req, StreamObserver<NodeUnpublishVolumeResponse> out) {
    call("NodeUnpublishVolume", req.getVolumeId(), out, () -> {
      String target = req.getTargetPath();
      if (target.isEmpty()) {
        throw NodeErrors.invalid("target_path is required");
      }
      var v = volumes.get(req.getVolumeId());
      if (v.isPresent() && v.get().ephemeral() && v.get().stagingPath().equals(target)) {
        ephemeral.unpublish(v.get());
        log.info("volume {}: ephemeral volume {} unpublished from {} and deleted", req.getVolumeId(),
            v.get().exportName(), target);
        return NodeUnpublishVolumeResponse.getDefaultInstance();
      }
      Path t = Path.of(target);
      if (Files.exists(t, LinkOption.NOFOLLOW_LINKS)) {
        if (mounter.isMountPoint(target)) {
          mounter.unmount(target);
        }
        Files.deleteIfExists(t);
      }
      if (v.isPresent() && v.get().publications().containsKey(target)) {
        volumes.put(v.get().withoutPublication(target));
        log.info("volume {} unpublished from {}", req.getVolumeId(), target);
      }
      return NodeUnpublishVolumeResponse.getDefaultInstance();
    });
  }

  // ---- stats and expand --------------------------------------------------------------------------------------

  @Override
  public void nodeGetVolumeStats(NodeGetVolumeStatsRequest req, StreamObserver<NodeGetVolumeStatsResponse> out) {
    call("NodeGetVolumeStats", req.getVolumeId(), out, () -> {
      if (req.getVolumePath().isEmpty()) {
        throw NodeErrors.invalid("volume_path is required");
      }
      return capacity.stats(req.getVolumeId(), req.getVolumePath());
    });
  }

  @Override
  public void nodeExpandVolume(NodeExpandVolumeRequest req, StreamObserver<NodeExpandVolumeResponse> out) {
    call("NodeExpandVolume", req.getVolumeId(), out, () -> {
      if (req.getVolumePath().isEmpty()) {
        throw NodeErrors.invalid("volume_path is required");
      }
      return capacity.expand(req);
    });
  }

  // ---- node info ---------------------------------------------------------------------------------------------

  @Override
  public void nodeGetCapabilities(NodeGetCapabilitiesRequest req, StreamObserver<NodeGetCapabilitiesResponse> out) {
    var resp = NodeGetCapabilitiesResponse.newBuilder();
    for (var t : List.of(NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME, NodeServiceCapability.RPC.Type.GET_VOLUME_STATS,
        NodeServiceCapability.RPC.Type.EXPAND_VOLUME)) {
      resp.addCapabilities(NodeServiceCapability.newBuilder().setRpc(NodeServiceCapability.RPC.newBuilder().setType(t)));
    }
    out.onNext(resp.build());
    out.onCompleted();
  }

  @Override
  public void nodeGetInfo(NodeGetInfoRequest req, StreamObserver<NodeGetInfoResponse> out) {
    out.onNext(NodeGetInfoResponse.newBuilder().setNodeId(nodeId).setMaxVolumesPerNode(maxVolumes)
        .setAccessibleTopology(Topology.newBuilder().putSegments(TOPOLOGY_KEY, nodeId)).build());
    out.onCompleted();
  }
}
