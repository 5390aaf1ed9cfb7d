package io.bucketdisk.node.nbd;

import java.io.IOException;

/**
 * The server refused or botched the handshake. {@link #exportMissing()} is true when it answered
 * {@code NBD_REP_ERR_UNKNOWN} (no such export), which the CSI layer reports as NOT_FOUND; {@link #refusedByPolicy()}
 * when it answered {@code NBD_REP_ERR_POLICY} (the volume is not published to this node), PERMISSION_DENIED.
 */
public final class NbdHandshakeException extends IOException {
  private static final long serialVersionUID = 1L;
  private final boolean exportMissing;
  private final boolean refusedByPolicy;

  public NbdHandshakeException(String message, boolean exportMissing) {
    this(message, exportMissing, false);
  }

  public NbdHandshakeException(String message, boolean exportMissing, boolean refusedByPolicy) {
    super(message);
    this.exportMissing = exportMissing;
    this.refusedByPolicy = refusedByPolicy;
  }

  public boolean refusedByPolicy() {
    return refusedByPolicy;
  }

  public boolean exportMissing() {
    return exportMissing;
  }
}
