package io.bucketdisk.node;

import java.util.Map;
import java.util.TreeMap;

/**
 * One volume staged on this node, as persisted in the state directory: its device {@code /dev/nbd<index>},
 * the staging path, whether it is a raw block volume, the filesystem and mount flags used, whether it was
 * staged read-only, the gateway address it was attached from, and its publications (target path → read-only).
 */
public record StagedVolume(String volumeId, int deviceIndex, String stagingPath, boolean block, String fsType,
    java.util.List<String> mountFlags, boolean readOnly, String accessMode, String gateway, Map<String, Boolean> publications) {

  public StagedVolume {
    mountFlags = java.util.List.copyOf(mountFlags);
    publications = Map.copyOf(publications);
  }

  public String device() {
    return "/dev/nbd" + deviceIndex;
  }

  StagedVolume withPublication(String target, boolean ro) {
    var p = new TreeMap<>(publications);
    p.put(target, ro);
    return new StagedVolume(volumeId, deviceIndex, stagingPath, block, fsType, mountFlags, readOnly, accessMode, gateway, p);
  }

  StagedVolume withoutPublication(String target) {
    var p = new TreeMap<>(publications);
    p.remove(target);
    return new StagedVolume(volumeId, deviceIndex, stagingPath, block, fsType, mountFlags, readOnly, accessMode, gateway, p);
  }
}
