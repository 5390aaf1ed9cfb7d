package io.bucketdisk.node;

import io.bucketdisk.proto.csi.NodePublishVolumeRequest;
import io.bucketdisk.proto.csi.VolumeCapability;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ephemeral inline volumes ({@code csi.storage.k8s.io/ephemeral=true} in NodePublishVolume's volume_context, no
 * staging path): publish creates the volume through the gateway's control API ({@link GatewayControl}; the node has
 * no store access) and records it in the manifest as published to this node (so an operator's delete refuses it even
 * while a gateway restart leaves it without a lease), attaches it, formats it and mounts it straight at the target;
 * unpublish unmounts, detaches, unpublishes and deletes it. Both persist each step first ({@link NodeVolumes}), so a
 * retry or a restarted plugin picks up where a failed call stopped. Attributes are read by {@link
 * EphemeralAttributes}; only filesystem access is offered, as Kubernetes inline volumes are filesystems.
 *
 * <p>Thread-safe; callers serialise calls for one volume (NodeService's one RPC per volume). Throws
 * INVALID_ARGUMENT for a request an inline volume cannot have, ALREADY_EXISTS when the id is staged or published
 * elsewhere, RESOURCE_EXHAUSTED when the node is full, the gateway's codes from {@link GatewayControl}, and what
 * {@link VolumeMounts} and {@link NodeAttacher} throw (mapped by {@link NodeErrors}).
 */
final class EphemeralVolumes {
  private static final Logger log = LoggerFactory.getLogger(EphemeralVolumes.class);

  private final String nodeId;
  private final NodeVolumes volumes;
  private final NodeAttacher attacher;
  private final Mounter mounter;
  private final VolumeMounts mounts;
  private final GatewayControl control;

  EphemeralVolumes(String nodeId, NodeVolumes volumes, NodeAttacher attacher, Mounter mounter, VolumeMounts mounts,
      GatewayControl control) {
    this.nodeId = nodeId;
    this.volumes = volumes;
    this.attacher = attacher;
    this.mounter = mounter;
    this.mounts = mounts;
    this.control = control;
  }

  /** NodePublishVolume of an ephemeral volume whose request has a target path and a capability. */
  void publish(NodePublishVolumeRequest req) throws IOException {
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
    var described = VolumeAccess.of(cap.hasMount() ? cap : cap.toBuilder()
        .setMount(VolumeCapability.MountVolume.getDefaultInstance()).build());
    if (req.getReadonly() || described.readOnly()) {
      throw NodeErrors.invalid("ephemeral inline volume " + id + " starts blank; it cannot be published read-only");
    }
    var existing = volumes.get(id);
    if (existing.isPresent()) {
      var v = existing.get();
      if (!v.ephemeral() || !v.stagingPath().equals(target)) {
        throw NodeErrors.alreadyExists("volume " + id + " is already " + (v.ephemeral() ? "published at " : "staged at ")
            + v.stagingPath());
      }
      if (v.deviceIndex() >= 0 && attacher.serves(v.exportName(), v.deviceIndex()) && mounter.isMountPoint(target)
          && v.publications().containsKey(target)) {
        return; // a retry of a publish that completed
      }
      log.info("volume {}: ephemeral record found but the device or mount is missing; publishing again", id);
      release(v);
    } else {
      volumes.checkRoom();
    }
    var gateway = attacher.defaultGateway();
    String storeId = control.createEphemeral(id, attrs.sizeBytes(), attrs.chunkSize(), attrs.labels(), nodeId);
    // Recorded before attaching: an unpublish after a failure here still finds the volume and deletes it.
    var v = new StagedVolume(id, -1, target, false, attrs.fsType(), cap.getMount().getMountFlagsList(), false,
        described.accessMode(), gateway.toString(), Map.of(), storeId, true);
    volumes.put(v);
    try {
      v = v.withDevice(attacher.attach(storeId, gateway).index());
      volumes.put(v);
      Files.createDirectories(Path.of(target));
      mounts.mount(v);
      volumes.put(v.withPublication(target, false));
    } catch (Exception e) {
      try {
        unpublish(v);
      } catch (Exception cleanup) {
        e.addSuppressed(cleanup); // the record stays: NodeUnpublishVolume finishes the cleanup
      }
      throw e;
    }
    log.info("volume {}: ephemeral volume {} ({} bytes, {}) published at {}", id, storeId, attrs.sizeBytes(),
        attrs.fsType(), target);
  }

  /** Unmounts an ephemeral volume's target and detaches its device, recording that it has neither now. */
  private void release(StagedVolume v) throws IOException {
    mounts.unmountAndDetach(v);
    volumes.put(v.withDevice(-1).withoutPublication(v.stagingPath()));
  }

  /**
   * NodeUnpublishVolume of ephemeral volume {@code v} at its target: unmount, detach, delete the store volume through
   * the gateway, remove the target, forget; each step idempotent.
   */
  void unpublish(StagedVolume v) throws IOException {
    release(v);
    control.deleteEphemeral(v.exportName());
    Files.deleteIfExists(Path.of(v.stagingPath()));
    volumes.remove(v.volumeId());
  }
}
