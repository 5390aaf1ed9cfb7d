package io.bucketdisk.nbd.export;

import java.io.IOException;

/** A failed verb with the NBD error the client must see. Thrown by {@link Export} implementations. */
public final class ExportException extends IOException {
  private static final long serialVersionUID = 1L;
  private final NbdError error;

  public ExportException(NbdError error, String message) {
    super(message);
    this.error = error;
  }

  public ExportException(NbdError error, String message, Throwable cause) {
    super(message, cause);
    this.error = error;
  }

  /** The NBD error for the reply. */
  public NbdError error() {
    return error;
  }
}
