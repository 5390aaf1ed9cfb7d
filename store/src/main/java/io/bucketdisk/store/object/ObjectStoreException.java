package io.bucketdisk.store.object;

import io.bucketdisk.store.StoreException;
import org.jspecify.annotations.Nullable;

/**
 * An object operation that failed after retries. Its {@link #kind()} is {@link Kind#TRANSIENT} (retries
 * exhausted: 5xx, throttling, connection errors), {@link Kind#CONFLICT} (a precondition failed: HTTP 412, or
 * {@code If-Match} on a missing key) or {@link Kind#PERMANENT} (403, 400, no such bucket, local I/O errors that are
 * not worth retrying). {@link #httpStatus()} is the last HTTP status seen, 0 when there was none; {@link
 * #errorCode()} the S3 error code the server sent ({@code AccessDenied}, ...), null when it sent none. The message
 * carries the server's code and message and the fix that fits them.
 */
public final class ObjectStoreException extends StoreException {
  private static final long serialVersionUID = 1L;

  private final int httpStatus;
  private final @Nullable String errorCode;

  public ObjectStoreException(Kind kind, int httpStatus, @Nullable String errorCode, String message,
      @Nullable Throwable cause) {
    super(kind, message, cause);
    this.httpStatus = httpStatus;
    this.errorCode = errorCode;
  }

  public ObjectStoreException(Kind kind, int httpStatus, String message, Throwable cause) {
    this(kind, httpStatus, cause instanceof ObjectStoreException o ? o.errorCode : null, message, cause);
  }

  public ObjectStoreException(Kind kind, int httpStatus, String message) {
    this(kind, httpStatus, null, message, null);
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

  /** The server's S3 error code, or null. */
  public @Nullable String errorCode() {
    return errorCode;
  }
}
