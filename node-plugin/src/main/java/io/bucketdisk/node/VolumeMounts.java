package io.bucketdisk.node;

import java.io.IOException;
import java.util.ArrayList;

/**
 * Puts a volume's filesystem in place on its attached device and takes mount and device away again, deciding what
 * is safe: format only a blank device that may be written, never mount a filesystem other than the one asked for,
 * mount a read-only volume read-only, and leave alone a device whose backend is now another volume's. Touches no
 * record ({@link NodeVolumes} is the caller's). Thread-safe (stateless); callers serialise calls for one volume.
 * Throws FAILED_PRECONDITION when it refuses to format or mount, {@link Mounter.ToolException} when a tool fails and
 * NetlinkException when the detach does.
 */
final class VolumeMounts {
  private final NodeAttacher attacher;
  private final Mounter mounter;

  VolumeMounts(NodeAttacher attacher, Mounter mounter) {
    this.attacher = attacher;
    this.mounter = mounter;
  }

  /**
   * Mounts a filesystem volume's device at its path (the staging path; an ephemeral volume's target), formatting
   * the device first when it is blank.
   */
  void mount(StagedVolume v) throws IOException {
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

  /**
   * Unmounts the volume's path (the staging path; an ephemeral volume's target) if mounted and detaches its device
   * if attached and still serving this volume; touches no record.
   */
  void unmountAndDetach(StagedVolume v) throws IOException {
    if (!v.block() && mounter.isMountPoint(v.stagingPath())) {
      mounter.unmount(v.stagingPath());
    }
    if (v.deviceIndex() >= 0 && NodeAttacher.backend(v.deviceIndex()).map(v.exportName()::equals).orElse(true)) {
      attacher.detach(v.exportName(), v.deviceIndex());
    }
  }
}
