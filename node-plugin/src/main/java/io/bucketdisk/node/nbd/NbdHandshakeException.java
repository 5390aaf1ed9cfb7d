package io.bucketdisk.node.nbd;

import java.io.IOException;

/**
 * The server refused or botched the handshake. {@link #exportMissing()} is true when it answered
 * {@code NBD_REP_ERR_UNKNOWN} (no such export), which the CSI layer reports as NOT_FOUND.
 */
public final class NbdHandshakeException extends IOException {
  private static final long serialVersionUID = 1L;
  private final boolean exportMissing;

  public NbdHandshakeException(String message, boolean exportMissing) {
    super(message);
    this.exportMissing = exportMissing;
  }

  public boolean exportMissing() {
    return exportMissing;
  }
}
