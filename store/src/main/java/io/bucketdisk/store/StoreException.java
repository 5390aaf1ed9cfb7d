package io.bucketdisk.store;

import java.io.IOException;

/**
 * A store operation that failed after retries, or can never succeed. {@link Kind} tells callers whether to
 * surface it as "try again" (transient), "conflict" (a conditional write lost, a lease is held elsewhere) or a
 * permanent failure.
 */
public class StoreException extends IOException {
  private static final long serialVersionUID = 1L;

  /** What kind of failure this is. */
  public enum Kind {
    /** Retries were exhausted; the same call may succeed later. */
    TRANSIENT,
    /** A conditional write lost (ETag changed, key exists) or a lease is held by another owner. */
    CONFLICT,
    /** The object or volume does not exist. */
    NOT_FOUND,
    /** Anything else: permissions, bad bucket, corrupt manifest. */
    PERMANENT
  }

  private final Kind kind;

  public StoreException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public StoreException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}
