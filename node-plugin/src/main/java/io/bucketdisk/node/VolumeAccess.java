package io.bucketdisk.node;

import io.bucketdisk.proto.csi.VolumeCapability;
import io.bucketdisk.proto.csi.VolumeCapability.AccessMode.Mode;
import java.util.List;
import java.util.Set;

/**
 * The access a CSI {@code volume_capability} asks for, as this node can serve it: raw block, or a filesystem
 * ({@code fsType}, default ext4, with mount flags); read-only for the reader-only modes; the access mode's name as
 * recorded in {@link StagedVolume}. {@link #of} validates the capability and throws INVALID_ARGUMENT when it is
 * incomplete and FAILED_PRECONDITION when this node does not support it. Immutable.
 *
 * @param fsType empty for block
 * @param mountFlags empty for block
 */
record VolumeAccess(boolean block, String fsType, List<String> mountFlags, boolean readOnly, String accessMode) {
  private static final Set<Mode> MOUNT_MODES = Set.of(Mode.SINGLE_NODE_WRITER, Mode.SINGLE_NODE_READER_ONLY,
      Mode.MULTI_NODE_READER_ONLY, Mode.SINGLE_NODE_SINGLE_WRITER, Mode.SINGLE_NODE_MULTI_WRITER);
  private static final Set<Mode> READ_ONLY_MODES = Set.of(Mode.SINGLE_NODE_READER_ONLY, Mode.MULTI_NODE_READER_ONLY);

  VolumeAccess {
    mountFlags = List.copyOf(mountFlags);
  }

  static VolumeAccess of(VolumeCapability cap) {
    if (!cap.hasAccessMode() || cap.getAccessMode().getMode() == Mode.UNKNOWN) {
      throw NodeErrors.invalid("volume_capability.access_mode is required");
    }
    Mode mode = cap.getAccessMode().getMode();
    boolean readOnly = READ_ONLY_MODES.contains(mode);
    if (cap.hasBlock() && (mode == Mode.MULTI_NODE_MULTI_WRITER || mode == Mode.MULTI_NODE_SINGLE_WRITER)) {
      throw NodeErrors.invalid("access mode " + mode + " is not supported: a volume is written from one node at a time");
    }
    if (cap.hasBlock()) {
      return new VolumeAccess(true, "", List.of(), readOnly, mode.name());
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
    return new VolumeAccess(false, fs, cap.getMount().getMountFlagsList(), readOnly, mode.name());
  }
}
