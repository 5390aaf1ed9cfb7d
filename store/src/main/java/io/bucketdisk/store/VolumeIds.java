package io.bucketdisk.store;

import io.bucketdisk.store.layout.VolumeManifest;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Volume and snapshot ids derived from the CO's names, so that a retried CreateVolume/CreateSnapshot lands on the
 * same id without a separate name index. A name that is already a good id (lower-case DNS-label style, at most 63
 * characters, e.g. Kubernetes' {@code pvc-<uid>}) is used as it is; any other name becomes a sanitized prefix plus
 * 16 hex digits of its SHA-256. The manifest records the original name, so the rare collision (a name that looks like
 * another name's hashed id) is detected and refused rather than silently sharing a volume. Ids are valid store ids
 * and NBD export names ({@code [a-z0-9.-]}, at most 63 characters). The controller (CreateVolume, CreateSnapshot) and
 * the gateway (ephemeral inline volumes, whose kubelet-made names {@code csi-<64 hex>} are too long) share this rule.
 */
public final class VolumeIds {

  private static final Pattern PLAIN = Pattern.compile("[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?");
  private static final int PREFIX = 40;

  /** Manifest parameter holding the CO's name of the volume (or snapshot). */
  public static final String NAME_KEY = "csi.name";
  /**
   * Manifest parameter marking a CSI ephemeral inline volume ({@code "true"}): created and deleted by the node
   * through its gateway, never by the controller.
   */
  public static final String EPHEMERAL_KEY = "csi.ephemeral";

  private VolumeIds() {}

  /** Whether {@code m} is an ephemeral inline volume ({@link #EPHEMERAL_KEY}). */
  public static boolean isEphemeral(VolumeManifest m) {
    return "true".equals(m.parameters().get(EPHEMERAL_KEY));
  }

  /** The id for {@code name}; deterministic. */
  public static String forName(String name) {
    if (PLAIN.matcher(name).matches()) {
      return name;
    }
    String s = name.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-");
    if (s.length() > PREFIX) {
      s = s.substring(0, PREFIX);
    }
    s = s.replaceAll("^-+|-+$", "");
    if (s.isEmpty()) {
      s = "vol";
    }
    return s + "-" + hash(name);
  }

  private static String hash(String name) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(name.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
