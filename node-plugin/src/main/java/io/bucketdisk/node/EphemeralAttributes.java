package io.bucketdisk.node;

import io.bucketdisk.common.size.ByteSize;
import io.bucketdisk.proto.csi.VolumeCapability;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a pod asks of a CSI ephemeral inline volume, read from NodePublishVolume's {@code volume_context} (the
 * {@code volumeAttributes} of the pod's {@code csi:} volume): {@code size} (a Kubernetes quantity such as {@code 1Gi},
 * {@code 512Mi}, {@code 10G} or plain bytes; default 1 GiB; rounded up to 4 KiB), {@code chunkSize} (optional, a
 * power of two between 64 KiB and 64 MiB) and {@code fsType} ({@code ext4} or {@code xfs}; else the capability's
 * fs_type, else ext4). Kubelet's own {@code csi.storage.k8s.io/*} keys are allowed; any other key is refused, so a
 * typo never silently yields a default volume. {@link #parse} throws INVALID_ARGUMENT naming the key.
 *
 * @param chunkSize 0 for the gateway's default
 * @param labels what to record in the volume's manifest (file system, pod name, namespace and uid)
 */
record EphemeralAttributes(long sizeBytes, int chunkSize, String fsType, Map<String, String> labels) {
  /** The volume_context key kubelet sets to {@code true} for an inline volume. */
  static final String EPHEMERAL_KEY = "csi.storage.k8s.io/ephemeral";
  static final String SIZE = "size";
  static final String CHUNK_SIZE = "chunkSize";
  static final String FS_TYPE = "fsType";
  static final long DEFAULT_SIZE = 1L << 30;
  static final long MIN_SIZE = 16L << 20;
  static final long MIN_XFS_SIZE = 300L << 20; // mkfs.xfs refuses smaller file systems
  static final long MAX_SIZE = 1L << 50;
  private static final String KUBELET_PREFIX = "csi.storage.k8s.io/";

  EphemeralAttributes {
    labels = Map.copyOf(labels);
  }

  /** Whether NodePublishVolume's volume_context marks an ephemeral inline volume. */
  static boolean isEphemeral(Map<String, String> volumeContext) {
    return "true".equalsIgnoreCase(volumeContext.getOrDefault(EPHEMERAL_KEY, ""));
  }

  static EphemeralAttributes parse(Map<String, String> volumeContext, VolumeCapability cap) {
    for (String key : volumeContext.keySet()) {
      if (!key.startsWith(KUBELET_PREFIX) && !key.equals(SIZE) && !key.equals(CHUNK_SIZE) && !key.equals(FS_TYPE)) {
        throw NodeErrors.invalid("ephemeral volume attribute '" + key + "' is not known; use " + SIZE + ", "
            + CHUNK_SIZE + " or " + FS_TYPE);
      }
    }
    long size = volumeContext.containsKey(SIZE) ? quantity(SIZE, volumeContext.get(SIZE)) : DEFAULT_SIZE;
    size = (size + 4095) / 4096 * 4096;
    if (size < MIN_SIZE || size > MAX_SIZE) {
      throw NodeErrors.invalid("ephemeral volume attribute " + SIZE + "=" + volumeContext.get(SIZE)
          + " is out of range; use 16Mi to 1Pi");
    }
    int chunk = 0;
    if (volumeContext.containsKey(CHUNK_SIZE)) {
      long c = quantity(CHUNK_SIZE, volumeContext.get(CHUNK_SIZE));
      if (Long.bitCount(c) != 1 || c < (64 << 10) || c > (64 << 20)) {
        throw NodeErrors.invalid("ephemeral volume attribute " + CHUNK_SIZE + "=" + volumeContext.get(CHUNK_SIZE)
            + " must be a power of two from 64Ki to 64Mi");
      }
      chunk = (int) c;
    }
    String fs = volumeContext.getOrDefault(FS_TYPE, "");
    if (fs.isEmpty()) {
      fs = cap.hasMount() && !cap.getMount().getFsType().isEmpty() ? cap.getMount().getFsType() : "ext4";
    }
    if (!Mounter.FILESYSTEMS.contains(fs)) {
      throw NodeErrors.invalid("ephemeral volume " + FS_TYPE + " '" + fs + "' is not supported; use one of "
          + Mounter.FILESYSTEMS);
    }
    if (fs.equals("xfs") && size < MIN_XFS_SIZE) {
      throw NodeErrors.invalid("ephemeral volume attribute " + SIZE + ": xfs needs at least 300Mi");
    }
    var labels = new TreeMap<String, String>();
    labels.put(FS_TYPE, fs);
    for (String k : new String[] {"pod.name", "pod.namespace", "pod.uid"}) {
      String v = volumeContext.get(KUBELET_PREFIX + k);
      if (v != null) {
        labels.put(KUBELET_PREFIX + k, v);
      }
    }
    return new EphemeralAttributes(size, chunk, fs, labels);
  }

  /** Bytes of a Kubernetes quantity ({@link ByteSize}); a refusal is INVALID_ARGUMENT naming {@code key}. */
  static long quantity(String key, String text) {
    try {
      return ByteSize.parse(text).bytes();
    } catch (IllegalArgumentException e) {
      throw NodeErrors.invalid("ephemeral volume attribute " + key + ": " + e.getMessage());
    }
  }

}
