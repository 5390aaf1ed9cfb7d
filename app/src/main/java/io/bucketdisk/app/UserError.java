package io.bucketdisk.app;

/**
 * A failure the user can fix (bad configuration, unreachable store, missing kernel module). {@link Main}
 * prints its message as one line, without a stack trace; the message must name the fix.
 */
public final class UserError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public UserError(String message) {
    super(message);
  }

  public UserError(String message, Throwable cause) {
    super(message, cause);
  }
}
