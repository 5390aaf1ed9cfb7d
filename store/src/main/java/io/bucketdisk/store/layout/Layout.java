package io.bucketdisk.store.layout;

import io.bucketdisk.store.log.LogRef;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The key scheme of the bucket (all keys relative to the store prefix). Pure functions; see the package note for
 * the picture. Chunk keys are {@code volumes/<id>/chunks/<index as 16 hex digits>@<epoch as 8 hex digits>}, so a
 * LIST returns them by index, then by epoch.
 */
public final class Layout {
  /** Volume and snapshot ids: what S3 keys, NBD export names and CSI ids all accept. */
  public static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,252}");

  public static final String MANIFESTS = "manifests/";
  public static final String VOLUMES = "volumes/";
  public static final String SNAPSHOTS = "snapshots/";
  /** Highest epoch a chunk key can carry (8 hex digits). */
  public static final long MAX_EPOCH = 0xffff_ffffL;

  private static final String HEX = "0123456789abcdef";

  private Layout() {}

  /** Throws IllegalArgumentException with a one-line reason when {@code id} is not a valid volume/snapshot id. */
  public static String checkId(String what, String id) {
    if (!ID.matcher(id).matches()) {
      throw new IllegalArgumentException(what + " id '" + id + "' is invalid: use 1-253 characters of "
          + "[A-Za-z0-9._-], starting with a letter or digit");
    }
    return id;
  }

  public static String manifestKey(String volumeId) {
    return MANIFESTS + volumeId;
  }

  public static String chunksPrefix(String volumeId) {
    return VOLUMES + volumeId + "/chunks/";
  }

  public static String volumePrefix(String volumeId) {
    return VOLUMES + volumeId + "/";
  }

  public static String chunkKey(String volumeId, long index, long epoch) {
    return numberedKey(chunksPrefix(volumeId), index, epoch);
  }

  /** {@code prefix} + {@code number} as 16 hex digits + {@code @} + {@code epoch} as 8: chunk and log keys. */
  private static String numberedKey(String prefix, long number, long epoch) {
    StringBuilder b = new StringBuilder(prefix.length() + 25).append(prefix);
    hex(b, number, 16);
    b.append('@');
    hex(b, epoch, 8);
    return b.toString();
  }

  /** The chunk index of a key below {@link #chunksPrefix}, or -1 when the key is not a chunk key. */
  public static long chunkIndex(String key, int prefixLength) {
    if (key.length() != prefixLength + 25 || key.charAt(prefixLength + 16) != '@') {
      return -1;
    }
    return parseHex(key, prefixLength, 16);
  }

  /** The epoch of a chunk key below {@link #chunksPrefix}, or -1. */
  public static long chunkEpoch(String key, int prefixLength) {
    if (key.length() != prefixLength + 25 || key.charAt(prefixLength + 16) != '@') {
      return -1;
    }
    return parseHex(key, prefixLength + 17, 8);
  }

  /** Where a volume's write log lives: {@code volumes/<id>/log/<seq as 16 hex digits>@<epoch as 8 hex digits>}. */
  public static String logPrefix(String volumeId) {
    return VOLUMES + volumeId + "/log/";
  }

  public static String logKey(String volumeId, long seq, long epoch) {
    return numberedKey(logPrefix(volumeId), seq, epoch);
  }

  /** The sequence number of a key below {@link #logPrefix}, or -1 when it is not a log key (same shape as a chunk key). */
  public static long logSeq(String key, int prefixLength) {
    return chunkIndex(key, prefixLength);
  }

  /** The writer's epoch of a key below {@link #logPrefix}, or -1. */
  public static long logEpoch(String key, int prefixLength) {
    return chunkEpoch(key, prefixLength);
  }

  /**
   * The key of the segment {@code r} names: {@link #logKey} for one number, else {@code log/<last as 16 hex
   * digits>@<epoch as 8 hex digits>-<first as 16 hex digits>} for a merged segment (so a LIST sorts it beside the
   * last number it replaced).
   */
  public static String logKey(String volumeId, LogRef r) {
    String plain = logKey(volumeId, r.seq(), r.epoch());
    if (!r.merged()) {
      return plain;
    }
    StringBuilder b = new StringBuilder(plain.length() + 17).append(plain).append('-');
    hex(b, r.first(), 16);
    return b.toString();
  }

  /** The segment a key below {@link #logPrefix} names (see {@link #logKey(String, LogRef)}), or null. */
  public static @Nullable LogRef logRef(String key, int prefixLength) {
    if (key.length() == prefixLength + 25) {
      long seq = logSeq(key, prefixLength);
      long epoch = logEpoch(key, prefixLength);
      return seq < 0 || epoch < 0 ? null : new LogRef(seq, epoch);
    }
    if (key.length() != prefixLength + 42 || key.charAt(prefixLength + 25) != '-') {
      return null;
    }
    long seq = logSeq(key.substring(0, prefixLength + 25), prefixLength);
    long epoch = logEpoch(key.substring(0, prefixLength + 25), prefixLength);
    long first = parseHex(key, prefixLength + 26, 16);
    return seq < 0 || epoch < 0 || first < 0 || first > seq ? null : new LogRef(first, seq, epoch);
  }

  public static String dependentsPrefix(String volumeId) {
    return VOLUMES + volumeId + "/dependents/";
  }

  public static String dependentsPrefix(String volumeId, String snapshotId) {
    return dependentsPrefix(volumeId) + snapshotId + "/";
  }

  /** Marker that clone {@code cloneId} reads through snapshot {@code snapshotId} of {@code volumeId}. */
  public static String dependentKey(String volumeId, String snapshotId, String cloneId) {
    return dependentsPrefix(volumeId, snapshotId) + cloneId;
  }

  public static String snapshotKey(String snapshotId) {
    return SNAPSHOTS + snapshotId;
  }

  private static void hex(StringBuilder b, long v, int digits) {
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
      b.append(HEX.charAt((int) ((v >>> shift) & 0xf)));
    }
  }

  private static long parseHex(String s, int from, int digits) {
    long v = 0;
    for (int i = from; i < from + digits; i++) {
      int d = Character.digit(s.charAt(i), 16);
      if (d < 0) {
        return -1;
      }
      v = (v << 4) | d;
    }
    return v;
  }
}
