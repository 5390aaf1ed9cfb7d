package io.bucketdisk.controller;

/**
 * A request that the controller's rules refuse, with the reason (which {@code ControllerErrors} maps to the spec's gRPC code)
 * and a message a human can act on. Thrown by the domain classes and by request checking; never carries secrets.
 */
public final class VolumeError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Why the request was refused. */
  public enum Reason {
    /** A required field is missing or a value is invalid or unsupported (INVALID_ARGUMENT). */
    INVALID,
    /** The volume, snapshot, source or node does not exist (NOT_FOUND). */
    NOT_FOUND,
    /** The name exists with incompatible properties, or a publish with other flags exists (ALREADY_EXISTS). */
    ALREADY_EXISTS,
    /** The size cannot be honoured (OUT_OF_RANGE). */
    OUT_OF_RANGE,
    /** The volume's state forbids the call: published elsewhere, in use (FAILED_PRECONDITION). */
    PRECONDITION,
    /** Another operation on the same volume or name is in flight (ABORTED). */
    PENDING,
    /** A pagination token this controller did not issue (ABORTED: the CO restarts the listing). */
    BAD_TOKEN,
    /** The store or a gateway is not reachable now (UNAVAILABLE). */
    UNAVAILABLE
  }

  private final Reason reason;

  public VolumeError(Reason reason, String message) {
    super(message, null, false, false);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }

  static VolumeError invalid(String message) {
    return new VolumeError(Reason.INVALID, message);
  }

  static VolumeError notFound(String message) {
    return new VolumeError(Reason.NOT_FOUND, message);
  }
}
