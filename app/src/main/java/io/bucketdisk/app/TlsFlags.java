package io.bucketdisk.app;

import io.bucketdisk.common.tls.TlsFiles;
import java.io.IOException;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/** The client side's {@code --tls-cert}, {@code --tls-key} and {@code --tls-ca} (node plugin, controller). */
final class TlsFlags {
  private TlsFlags() {}

  /** The material, or null when no flag is given; a one-line {@link UserError} naming the flags otherwise. */
  static @Nullable TlsFiles client(@Nullable Path cert, @Nullable Path key, @Nullable Path ca) {
    if (cert == null && key == null && ca == null) {
      return null;
    }
    if (ca == null) {
      throw new UserError("--tls-cert/--tls-key need --tls-ca, the CA the gateways' certificates chain to");
    }
    try {
      return TlsFiles.load(cert, key, ca);
    } catch (IllegalArgumentException e) {
      throw new UserError("--tls-cert and --tls-key go together: give both");
    } catch (IOException e) {
      throw new UserError("TLS: " + e.getMessage() + ": check --tls-cert, --tls-key and --tls-ca");
    }
  }
}
