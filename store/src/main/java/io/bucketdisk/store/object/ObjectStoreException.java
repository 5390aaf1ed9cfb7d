package io.bucketdisk.store.object;

import io.bucketdisk.store.StoreException;

/**
 * An object operation that failed after retries. Its {@link #kind()} is {@link Kind#TRANSIENT} (retries
 * exhausted: 5xx, throttling, connection errors), {@link Kind#CONFLICT} (a precondition failed: HTTP 412, or
 * {@code If-Match} on a missing key) or {@link Kind#PERMANENT} (403, 400, no such bucket, local I/O errors that are
 * not worth retrying). {@link #httpStatus()} is the last HTTP status seen, 0 when there was none.
 */
public final class ObjectStoreException extends StoreException {
  private static final long serialVersionUID = 1L;

  private final int httpStatus;

  public ObjectStoreException(Kind kind, int httpStatus, String message, Throwable cause) {
    super(kind, message, cause);
    this.httpStatus = httpStatus;
  }

  public ObjectStoreException(Kind kind, int httpStatus, String message) {
    super(kind, message);
    this.httpStatus = httpStatus;
  }

  /** True when a conditional write lost (412, or If-Match on a missing key). */
  public boolean isPrecondition() {
    return kind() == Kind.CONFLICT;
  }

  public boolean isTransient() {
    return kind() == Kind.TRANSIENT;
  }

  public int httpStatus() {
    return httpStatus;
  }
}
