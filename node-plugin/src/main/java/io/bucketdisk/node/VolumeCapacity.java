package io.bucketdisk.node;

import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.proto.csi.NodeExpandVolumeRequest;
import io.bucketdisk.proto.csi.NodeExpandVolumeResponse;
import io.bucketdisk.proto.csi.NodeGetVolumeStatsResponse;
import io.bucketdisk.proto.csi.VolumeUsage;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The size of a volume staged or published here: its usage (NodeGetVolumeStats: bytes and inodes of the filesystem,
 * the device's size for block) and growing it (NodeExpandVolume: RECONFIGURE the size the gateway now reports into
 * the kernel, then grow ext4 or xfs online). Both take the volume's staging path or one of its publications and
 * throw NOT_FOUND for any other path or a volume not staged here; expand throws INVALID_ARGUMENT for a negative
 * capacity_range, OUT_OF_RANGE when the gateway's size is not in it, FAILED_PRECONDITION for a filesystem staged
 * read-only, and what {@link NodeAttacher} and {@link Mounter} throw. Thread-safe; callers serialise calls for one
 * volume.
 */
final class VolumeCapacity {
  private static final Logger log = LoggerFactory.getLogger(VolumeCapacity.class);

  private final NodeVolumes volumes;
  private final NodeAttacher attacher;
  private final Mounter mounter;

  VolumeCapacity(NodeVolumes volumes, NodeAttacher attacher, Mounter mounter) {
    this.volumes = volumes;
    this.attacher = attacher;
    this.mounter = mounter;
  }

  private StagedVolume staged(String volumeId, String path) {
    var v = volumes.staged(volumeId);
    if (!path.equals(v.stagingPath()) && !v.publications().containsKey(path)) {
      throw NodeErrors.notFound("volume " + volumeId + " is not staged or published at " + path);
    }
    if (!Files.exists(Path.of(path))) {
      throw NodeErrors.notFound("volume path " + path + " does not exist");
    }
    return v;
  }

  NodeGetVolumeStatsResponse stats(String volumeId, String path) throws IOException {
    var v = staged(volumeId, path);
    var resp = NodeGetVolumeStatsResponse.newBuilder();
    if (v.block()) {
      resp.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.BYTES)
          .setTotal(NodeAttacher.deviceBytes(v.deviceIndex())));
    } else {
      long[] s = mounter.statfs(path);
      long bs = s[0];
      resp.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.BYTES)
          .setTotal(s[1] * bs).setAvailable(s[2] * bs).setUsed((s[1] - s[3]) * bs));
      resp.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.INODES)
          .setTotal(s[4]).setAvailable(s[5]).setUsed(s[4] - s[5]));
    }
    return resp.build();
  }

  NodeExpandVolumeResponse expand(NodeExpandVolumeRequest req) throws IOException {
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
  }
}
