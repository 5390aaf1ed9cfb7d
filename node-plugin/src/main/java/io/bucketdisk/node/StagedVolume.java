package io.bucketdisk.node;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * One volume staged on this node, as persisted in the state directory: its device {@code /dev/nbd<index>} (-1 before
 * it is attached), the staging path, whether it is a raw block volume, the filesystem and mount flags used, whether it
 * was staged read-only, the gateway address it was attached from, and its publications (target path → read-only).
 *
 * <p>{@code exportName} is the gateway export (the store volume id, also the kernel's backend identifier); it equals
 * the CSI volume id except for an {@code ephemeral} inline volume, whose store id the gateway derived from kubelet's
 * id. An ephemeral volume is never staged: it is mounted straight at its target, which is then both its {@code
 * stagingPath} and its one publication, and it is deleted when unpublished. Records written before these two fields
 * existed read as persistent volumes exported under their CSI id.
 */
public record StagedVolume(String volumeId, int deviceIndex, String stagingPath, boolean block, String fsType,
    List<String> mountFlags, boolean readOnly, String accessMode, String gateway, Map<String, Boolean> publications,
    String exportName, boolean ephemeral) {

  public StagedVolume {
    mountFlags = List.copyOf(mountFlags);
    publications = Map.copyOf(publications);
    // absent in records written by older versions (Jackson passes null)
    String export = (@Nullable String) exportName;
    exportName = export == null || export.isEmpty() ? volumeId : export;
  }

  public String device() {
    return "/dev/nbd" + deviceIndex;
  }

  StagedVolume withDevice(int index) {
    return new StagedVolume(volumeId, index, stagingPath, block, fsType, mountFlags, readOnly, accessMode, gateway,
        publications, exportName, ephemeral);
  }

  StagedVolume withPublication(String target, boolean ro) {
    var p = new TreeMap<>(publications);
    p.put(target, ro);
    return new StagedVolume(volumeId, deviceIndex, stagingPath, block, fsType, mountFlags, readOnly, accessMode, gateway,
        p, exportName, ephemeral);
  }

  StagedVolume withoutPublication(String target) {
    var p = new TreeMap<>(publications);
    p.remove(target);
    return new StagedVolume(volumeId, deviceIndex, stagingPath, block, fsType, mountFlags, readOnly, accessMode, gateway,
        p, exportName, ephemeral);
  }
}
