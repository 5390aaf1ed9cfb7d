package io.bucketdisk.controller;

import io.bucketdisk.common.size.ByteSize;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * The StorageClass parameters bucketdisk understands, validated. Keys:
 *
 * <ul>
 *   <li>{@code chunkSize}: a power of two from 64Ki to 64Mi, as bytes or with a binary suffix ({@code 4Mi},
 *       {@code 256Ki}); default 4Mi.
 *   <li>{@code readAheadChunks}: how many chunks the gateway reads ahead on sequential reads, 0..64; default 0.
 *   <li>{@code fsType}: {@code ext4} or {@code xfs} for mount volumes; default from the mount capability, else ext4.
 * </ul>
 *
 * Keys with the {@code csi.storage.k8s.io/} prefix (what the external-provisioner adds) are ignored; any other key is
 * {@link VolumeError.Reason#INVALID} naming it. The values are what goes into the manifest and, as {@link
 * #volumeContext()}, to the node plugin. Immutable.
 */
public record VolumeParameters(int chunkSize, int readAheadChunks, @Nullable String fsType) {

  public static final String CHUNK_SIZE = "chunkSize";
  public static final String READ_AHEAD = "readAheadChunks";
  public static final String FS_TYPE = "fsType";
  private static final String K8S_PREFIX = "csi.storage.k8s.io/";
  private static final int MIN_CHUNK = 64 << 10;
  private static final int MAX_CHUNK = 64 << 20;
  private static final int DEFAULT_CHUNK = 4 << 20;
  private static final int MAX_READ_AHEAD = 64;

  /**
   * Parses StorageClass parameters; {@code mountFsType} is the fs_type of the request's mount capability (empty or
   * null when none or block). A parameter and a capability naming different filesystems is invalid.
   */
  public static VolumeParameters parse(Map<String, String> parameters, @Nullable String mountFsType) {
    int chunk = DEFAULT_CHUNK;
    int readAhead = 0;
    String fs = null;
    for (var e : new TreeMap<>(parameters).entrySet()) {
      String key = e.getKey();
      String value = e.getValue().trim();
      switch (key) {
        case CHUNK_SIZE -> chunk = parseChunkSize(value);
        case READ_AHEAD -> readAhead = parseReadAhead(value);
        case FS_TYPE -> fs = parseFsType(value, "parameter " + FS_TYPE);
        default -> {
          if (!key.startsWith(K8S_PREFIX)) {
            throw VolumeError.invalid("unknown StorageClass parameter '" + key + "' (known: " + CHUNK_SIZE + ", "
                + READ_AHEAD + ", " + FS_TYPE + ")");
          }
        }
      }
    }
    if (mountFsType != null && !mountFsType.isEmpty()) {
      String capFs = parseFsType(mountFsType, "mount capability fs_type");
      if (fs != null && !fs.equals(capFs)) {
        throw VolumeError.invalid("parameter " + FS_TYPE + "=" + fs + " contradicts the mount capability's fs_type "
            + capFs);
      }
      fs = capFs;
    }
    return new VolumeParameters(chunk, readAhead, fs);
  }

  /** What the manifest stores and the node plugin receives as volume_context (stable for a volume id). */
  public Map<String, String> volumeContext() {
    var m = new LinkedHashMap<String, String>();
    m.put(CHUNK_SIZE, Integer.toString(chunkSize));
    m.put(READ_AHEAD, Integer.toString(readAheadChunks));
    if (fsType != null) {
      m.put(FS_TYPE, fsType);
    }
    return m;
  }

  /** Reads back what {@link #volumeContext()} wrote into a manifest (missing keys take the defaults). */
  public static VolumeParameters fromStored(Map<String, String> stored, int manifestChunkSize) {
    String ra = stored.get(READ_AHEAD);
    return new VolumeParameters(manifestChunkSize, ra == null ? 0 : Integer.parseInt(ra), stored.get(FS_TYPE));
  }

  static int parseChunkSize(String value) {
    long bytes = parseBinarySize(value, CHUNK_SIZE);
    if (bytes < MIN_CHUNK || bytes > MAX_CHUNK || Long.bitCount(bytes) != 1) {
      throw VolumeError.invalid("parameter " + CHUNK_SIZE + "=" + value
          + " must be a power of two from 64Ki to 64Mi (e.g. 4Mi)");
    }
    return (int) bytes;
  }

  /** Parses a size ({@link ByteSize}); a refusal is invalid for {@code key}. */
  static long parseBinarySize(String value, String key) {
    try {
      return ByteSize.parse(value).bytes();
    } catch (IllegalArgumentException e) {
      throw VolumeError.invalid("parameter " + key + ": " + e.getMessage());
    }
  }


  private static int parseReadAhead(String value) {
    try {
      int n = Integer.parseInt(value);
      if (n >= 0 && n <= MAX_READ_AHEAD) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw VolumeError.invalid("parameter " + READ_AHEAD + "=" + value + " must be an integer from 0 to "
        + MAX_READ_AHEAD);
  }

  private static String parseFsType(String value, String what) {
    String fs = value.toLowerCase(Locale.ROOT);
    if (!fs.equals("ext4") && !fs.equals("xfs")) {
      throw VolumeError.invalid(what + "=" + value + " is not supported (use ext4 or xfs)");
    }
    return fs;
  }
}
