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
import io.bucketdisk.proto.csi.VolumeCapability;
import io.bucketdisk.proto.csi.VolumeCapability.AccessMode.Mode;
import io.bucketdisk.proto.csi.VolumeUsage;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
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
 * <p><b>Ephemeral inline volumes</b> ({@code csi.storage.k8s.io/ephemeral=true} in NodePublishVolume's
 * volume_context, no staging path): publish creates the volume through the gateway's control API ({@link
 * GatewayControl}; the node has no store access) and records it in the manifest as published to this node (so an
 * operator's delete refuses it even while a gateway restart leaves it without a lease), attaches it, formats it and
 * mounts it straight at the target; unpublish unmounts, detaches, unpublishes and deletes it. Both persist each step first, so a retry or a restarted plugin picks up
 * where a failed call stopped. Attributes are read by {@link EphemeralAttributes}; only filesystem access is offered,
 * as Kubernetes inline volumes are filesystems.
 */
public final class NodeService extends NodeGrpc.NodeImplBase {
  private static final Logger log = LoggerFactory.getLogger(NodeService.class);
  static final String GATEWAY_KEY = "gatewayAddress";
  static final String TOPOLOGY_KEY = "topology.csi.bucketdisk.io/node";
  private static final Set<Mode> MOUNT_MODES = Set.of(Mode.SINGLE_NODE_WRITER, Mode.SINGLE_NODE_READER_ONLY,
      Mode.MULTI_NODE_READER_ONLY, Mode.SINGLE_NODE_SINGLE_WRITER, Mode.SINGLE_NODE_MULTI_WRITER);
  /** How long NodeUnstageVolume waits for the gateway to close the volume after the disconnect. */
  static final java.time.Duration UNSTAGE_CLOSE_WAIT = java.time.Duration.ofSeconds(30);
  private static final Set<Mode> READ_ONLY_MODES = Set.of(Mode.SINGLE_NODE_READER_ONLY, Mode.MULTI_NODE_READER_ONLY);

  private final String nodeId;
  private final long maxVolumes;
  private final NodeAttacher attacher;
  private final Mounter mounter;
  private final StagingState state;
  private final GatewayControl control;
  private final Set<String> busy = ConcurrentHashMap.newKeySet();

  NodeService(String nodeId, long maxVolumes, NodeAttacher attacher, Mounter mounter, StagingState state,
      GatewayControl control) {
    this.nodeId = nodeId;
    this.maxVolumes = maxVolumes;
    this.attacher = attacher;
    this.mounter = mounter;
    this.state = state;
    this.control = control;
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
      var wanted = describe(req.getVolumeId(), staging, cap);
      var existing = state.get(req.getVolumeId());
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
      if (state.all().size() >= maxVolumes) {
        throw Status.RESOURCE_EXHAUSTED.withDescription("node " + nodeId + " already has " + maxVolumes + " volumes")
            .asRuntimeException();
      }
      var gateway = gateway(req.getPublishContextMap());
      // Every node of a MULTI_NODE_READER_ONLY volume reads it read-only from its own gateway, without the writer's
      // lease: the export "<volume>@" (the gateway refuses it while anybody holds the lease).
      String export = cap.getAccessMode().getMode() == Mode.MULTI_NODE_READER_ONLY ? req.getVolumeId() + "@"
          : req.getVolumeId();
      var attached = attacher.attach(export, gateway);
      var v = new StagedVolume(wanted.volumeId(), attached.index(), staging, wanted.block(), wanted.fsType(),
          wanted.mountFlags(), wanted.readOnly() || attached.export().readOnly(), wanted.accessMode(), gateway.toString(),
          Map.of(), export, false);
      state.put(v);
      try {
        if (!v.block()) {
          mountStaged(v);
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

  private void mountStaged(StagedVolume v) throws IOException {
    var fs = mounter.filesystem(v.device());
    if (fs.isEmpty()) {
      if (v.readOnly()) {
        throw NodeErrors.precondition("volume " + v.volumeId() + " is blank and read-only: it cannot be formatted");
      }
      mounter.mkfs(v.device(), v.fsType());
    } else if (!fs.get().equals(v.fsType())) {
      throw NodeErrors.precondition("volume " + v.volumeId() + " holds a " + fs.get() + " filesystem, not " + v.fsType());
    }
    var options = new ArrayList<>(v.mountFlags());
    if (v.readOnly()) {
      options.add("ro");
    }
    mounter.mount(v.device(), v.stagingPath(), v.fsType(), options);
  }

  /** Validates a capability and describes the stage it asks for; FAILED_PRECONDITION when unsupported. */
  private static StagedVolume describe(String volumeId, String staging, VolumeCapability cap) {
    if (!cap.hasAccessMode() || cap.getAccessMode().getMode() == Mode.UNKNOWN) {
      throw NodeErrors.invalid("volume_capability.access_mode is required");
    }
    Mode mode = cap.getAccessMode().getMode();
    boolean readOnly = READ_ONLY_MODES.contains(mode);
    if (cap.hasBlock() && (mode == Mode.MULTI_NODE_MULTI_WRITER || mode == Mode.MULTI_NODE_SINGLE_WRITER)) {
      throw NodeErrors.invalid("access mode " + mode + " is not supported: a volume is written from one node at a time");
    }
    if (cap.hasBlock()) {
      return new StagedVolume(volumeId, -1, staging, true, "", List.of(), readOnly, mode.name(), "", Map.of(), volumeId,
          false);
    }
    if (!cap.hasMount()) {
      throw NodeErrors.invalid("volume_capability needs block or mount access");
    }
    if (!MOUNT_MODES.contains(mode)) {
      throw NodeErrors.precondition("access mode " + mode + " is not supported for mount volumes (a filesystem "
          + "cannot be written from several nodes); use block access");
    }
    String fs = cap.getMount().getFsType().isEmpty() ? "ext4" : cap.getMount().getFsType();
    if (!Mounter.FILESYSTEMS.contains(fs)) {
      throw NodeErrors.precondition("filesystem " + fs + " is not supported; use one of " + Mounter.FILESYSTEMS);
    }
    return new StagedVolume(volumeId, -1, staging, false, fs, cap.getMount().getMountFlagsList(), readOnly, mode.name(),
        "", Map.of(), volumeId, false);
  }

  // ---- unstage -----------------------------------------------------------------------------------------------

  @Override
  public void nodeUnstageVolume(NodeUnstageVolumeRequest req, StreamObserver<NodeUnstageVolumeResponse> out) {
    call("NodeUnstageVolume", req.getVolumeId(), out, () -> {
      if (req.getStagingTargetPath().isEmpty()) {
        throw NodeErrors.invalid("staging_target_path is required");
      }
      var v = state.get(req.getVolumeId());
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
    unmountAndDetach(v);
    state.remove(v.volumeId());
  }

  /**
   * Unmounts the volume's path (the staging path; an ephemeral volume's target) if mounted and detaches its device
   * if attached and still serving this volume; touches no record.
   */
  private void unmountAndDetach(StagedVolume v) throws IOException {
    if (!v.block() && mounter.isMountPoint(v.stagingPath())) {
      mounter.unmount(v.stagingPath());
    }
    if (v.deviceIndex() >= 0 && NodeAttacher.backend(v.deviceIndex()).map(v.exportName()::equals).orElse(true)) {
      attacher.detach(v.exportName(), v.deviceIndex());
    }
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
        return publishEphemeral(req);
      }
      if (req.getStagingTargetPath().isEmpty()) {
        throw NodeErrors.precondition("staging_target_path is required: this plugin stages volumes (STAGE_UNSTAGE_VOLUME)");
      }
      var wanted = describe(req.getVolumeId(), req.getStagingTargetPath(), req.getVolumeCapability());
      var v = state.get(req.getVolumeId()).orElseThrow(() ->
          NodeErrors.notFound("volume " + req.getVolumeId() + " is not staged on node " + nodeId));
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
      state.put(v.withPublication(target, ro));
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
      var v = state.get(req.getVolumeId());
      if (v.isPresent() && v.get().ephemeral() && v.get().stagingPath().equals(target)) {
        teardownEphemeral(v.get());
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
        state.put(v.get().withoutPublication(target));
        log.info("volume {} unpublished from {}", req.getVolumeId(), target);
      }
      return NodeUnpublishVolumeResponse.getDefaultInstance();
    });
  }

  // ---- ephemeral inline volumes ----------------------------------------------------------------------------

  private NodePublishVolumeResponse publishEphemeral(NodePublishVolumeRequest req) throws IOException {
    String id = req.getVolumeId();
    String target = req.getTargetPath();
    var cap = req.getVolumeCapability();
    if (!req.getStagingTargetPath().isEmpty()) {
      throw NodeErrors.invalid("ephemeral inline volume " + id + " must come without a staging_target_path");
    }
    if (cap.hasBlock()) {
      throw NodeErrors.invalid("ephemeral inline volume " + id + ": block access is not supported (Kubernetes inline"
          + " volumes are filesystems); use mount access");
    }
    var attrs = EphemeralAttributes.parse(req.getVolumeContextMap(), cap);
    var described = describe(id, target, cap.hasMount() ? cap : cap.toBuilder()
        .setMount(VolumeCapability.MountVolume.getDefaultInstance()).build());
    if (req.getReadonly() || described.readOnly()) {
      throw NodeErrors.invalid("ephemeral inline volume " + id + " starts blank; it cannot be published read-only");
    }
    var existing = state.get(id);
    if (existing.isPresent()) {
      var v = existing.get();
      if (!v.ephemeral() || !v.stagingPath().equals(target)) {
        throw NodeErrors.alreadyExists("volume " + id + " is already " + (v.ephemeral() ? "published at " : "staged at ")
            + v.stagingPath());
      }
      if (v.deviceIndex() >= 0 && attacher.serves(v.exportName(), v.deviceIndex()) && mounter.isMountPoint(target)
          && v.publications().containsKey(target)) {
        return NodePublishVolumeResponse.getDefaultInstance(); // a retry of a publish that completed
      }
      log.info("volume {}: ephemeral record found but the device or mount is missing; publishing again", id);
      releaseEphemeral(v);
    } else if (state.all().size() >= maxVolumes) {
      throw Status.RESOURCE_EXHAUSTED.withDescription("node " + nodeId + " already has " + maxVolumes + " volumes")
          .asRuntimeException();
    }
    var gateway = attacher.defaultGateway();
    String storeId = control.createEphemeral(id, attrs.sizeBytes(), attrs.chunkSize(), attrs.labels(), nodeId);
    // Recorded before attaching: an unpublish after a failure here still finds the volume and deletes it.
    var v = new StagedVolume(id, -1, target, false, attrs.fsType(), cap.getMount().getMountFlagsList(), false,
        described.accessMode(), gateway.toString(), Map.of(), storeId, true);
    state.put(v);
    try {
      v = v.withDevice(attacher.attach(storeId, gateway).index());
      state.put(v);
      Files.createDirectories(Path.of(target));
      mountStaged(v);
      state.put(v.withPublication(target, false));
    } catch (Exception e) {
      try {
        teardownEphemeral(v);
      } catch (Exception cleanup) {
        e.addSuppressed(cleanup); // the record stays: NodeUnpublishVolume finishes the cleanup
      }
      throw e;
    }
    log.info("volume {}: ephemeral volume {} ({} bytes, {}) published at {}", id, storeId, attrs.sizeBytes(),
        attrs.fsType(), target);
    return NodePublishVolumeResponse.getDefaultInstance();
  }

  /** Unmounts an ephemeral volume's target and detaches its device, recording that it has neither now. */
  private void releaseEphemeral(StagedVolume v) throws IOException {
    unmountAndDetach(v);
    state.put(v.withDevice(-1).withoutPublication(v.stagingPath()));
  }

  /** Unmount, detach, delete the store volume through the gateway, remove the target, forget; each step idempotent. */
  private void teardownEphemeral(StagedVolume v) throws IOException {
    releaseEphemeral(v);
    control.deleteEphemeral(v.exportName());
    Files.deleteIfExists(Path.of(v.stagingPath()));
    state.remove(v.volumeId());
  }

  // ---- stats and expand --------------------------------------------------------------------------------------

  private StagedVolume staged(String volumeId, String path) {
    var v = state.get(volumeId).orElseThrow(() -> NodeErrors.notFound("volume " + volumeId + " is not staged on node " + nodeId));
    if (!path.equals(v.stagingPath()) && !v.publications().containsKey(path)) {
      throw NodeErrors.notFound("volume " + volumeId + " is not staged or published at " + path);
    }
    if (!Files.exists(Path.of(path))) {
      throw NodeErrors.notFound("volume path " + path + " does not exist");
    }
    return v;
  }

  @Override
  public void nodeGetVolumeStats(NodeGetVolumeStatsRequest req, StreamObserver<NodeGetVolumeStatsResponse> out) {
    call("NodeGetVolumeStats", req.getVolumeId(), out, () -> {
      if (req.getVolumePath().isEmpty()) {
        throw NodeErrors.invalid("volume_path is required");
      }
      var v = staged(req.getVolumeId(), req.getVolumePath());
      var resp = NodeGetVolumeStatsResponse.newBuilder();
      if (v.block()) {
        resp.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.BYTES)
            .setTotal(NodeAttacher.deviceBytes(v.deviceIndex())));
      } else {
        long[] s = mounter.statfs(req.getVolumePath());
        long bs = s[0];
        resp.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.BYTES)
            .setTotal(s[1] * bs).setAvailable(s[2] * bs).setUsed((s[1] - s[3]) * bs));
        resp.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.INODES)
            .setTotal(s[4]).setAvailable(s[5]).setUsed(s[4] - s[5]));
      }
      return resp.build();
    });
  }

  @Override
  public void nodeExpandVolume(NodeExpandVolumeRequest req, StreamObserver<NodeExpandVolumeResponse> out) {
    call("NodeExpandVolume", req.getVolumeId(), out, () -> {
      if (req.getVolumePath().isEmpty()) {
        throw NodeErrors.invalid("volume_path is required");
      }
      var v = staged(req.getVolumeId(), req.getVolumePath());
      long required = req.hasCapacityRange() ? req.getCapacityRange().getRequiredBytes() : 0;
      long limit = req.hasCapacityRange() ? req.getCapacityRange().getLimitBytes() : 0;
      if (required < 0 || limit < 0) {
        throw NodeErrors.invalid("capacity_range must not be negative");
      }
      long size = attacher.refreshSize(v.exportName(), v.deviceIndex(), Endpoint.parse(v.gateway()));
      if (size < required || (limit > 0 && size > limit)) {
        throw Status.OUT_OF_RANGE.withDescription("volume " + v.volumeId() + " is " + size
            + " bytes at the gateway; expand it in the controller first (asked for " + required + ")").asRuntimeException();
      }
      boolean block = v.block() || (req.hasVolumeCapability() && req.getVolumeCapability().hasBlock());
      if (!block) {
        if (v.readOnly()) {
          throw NodeErrors.precondition("volume " + v.volumeId() + " is mounted read-only; its filesystem cannot grow");
        }
        mounter.resize(v.device(), v.stagingPath(), v.fsType());
        log.info("volume {}: {} grown online to {} bytes", v.volumeId(), v.fsType(), size);
      }
      return NodeExpandVolumeResponse.newBuilder().setCapacityBytes(size).build();
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
