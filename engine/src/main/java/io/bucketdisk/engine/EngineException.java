package io.bucketdisk.engine;

import java.io.IOException;

/**
 * A verb of a {@link Volume} that failed in a way its front end must tell apart; {@link #kind()} says which. A
 * front end maps each kind to its own protocol's error in one place (for NBD: {@code nbd.server.NbdErrors}).
 */
public final class EngineException extends IOException {
  private static final long serialVersionUID = 1L;

  /** What went wrong, as the caller of a verb needs to know it. */
  public enum Kind {
    /** The store could not take or give the bytes (after its retries), or a wait for it timed out. */
    IO,
    /** A change to a volume opened read-only (a snapshot). */
    READ_ONLY,
    /** The store refused a change because another gateway holds the volume's lease now; it never will accept it. */
    FENCED,
    /** A request the engine cannot serve as asked: a range outside the volume. */
    INVALID,
    /** The volume, or the whole engine, is closed or closing. */
    CLOSED
  }

  private final Kind kind;

  public EngineException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public EngineException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}
