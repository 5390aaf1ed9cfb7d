package io.bucketdisk.rpc;

import io.bucketdisk.store.StoreException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;

/**
 * The one mapping from a kind of failure to a gRPC status, used by every gRPC service of bucketdisk (CSI
 * Controller, CSI Node, the gateway control API). A service maps the failures only it has (the controller's {@code
 * VolumeError} reasons, the node's netlink and mount failures) to the CSI spec's codes first and hands the rest here,
 * so a store that lost a race or a peer that did not answer reads the same in every service's reply. The table is
 * in docs/errors.md.
 *
 * <table>
 *   <caption>Mapping</caption>
 *   <tr><th>failure</th><th>code</th><th>why</th></tr>
 *   <tr><td>{@link StatusRuntimeException}</td><td>its own</td><td>already decided by the service</td></tr>
 *   <tr><td>{@link StoreException} TRANSIENT</td><td>UNAVAILABLE</td><td>the store's retries ran out; try again</td></tr>
 *   <tr><td>StoreException CONFLICT</td><td>FAILED_PRECONDITION</td><td>the volume is held elsewhere: another
 *     gateway's lease, another node's exclusive publication (CSI prescribes FAILED_PRECONDITION for a volume published
 *     elsewhere); the store retries lost conditional writes itself, so a race alone rarely gets here</td></tr>
 *   <tr><td>StoreException NOT_FOUND</td><td>NOT_FOUND</td><td></td></tr>
 *   <tr><td>StoreException PERMANENT</td><td>INTERNAL</td><td>credentials, bucket, a corrupt record: an operator
 *     must look</td></tr>
 *   <tr><td>{@link IllegalArgumentException}</td><td>INVALID_ARGUMENT</td><td>a value the caller sent</td></tr>
 *   <tr><td>any other {@link IOException}</td><td>UNAVAILABLE</td><td>I/O to the store or a peer failed</td></tr>
 *   <tr><td>anything else</td><td>INTERNAL</td><td>a bug; logged with its stack trace by the caller</td></tr>
 * </table>
 *
 * <p>The description is {@code what + ": " + message}; causes never cross the wire.
 */
public final class GrpcErrors {
  private GrpcErrors() {}

  /** The code for {@code failure} (see the table). */
  public static Status.Code code(Throwable failure) {
    return switch (failure) {
      case StatusRuntimeException e -> e.getStatus().getCode();
      case StoreException e -> switch (e.kind()) {
        case TRANSIENT -> Status.Code.UNAVAILABLE;
        case CONFLICT -> Status.Code.FAILED_PRECONDITION;
        case NOT_FOUND -> Status.Code.NOT_FOUND;
        case PERMANENT -> Status.Code.INTERNAL;
      };
      case IllegalArgumentException e -> Status.Code.INVALID_ARGUMENT;
      case IOException e -> Status.Code.UNAVAILABLE;
      default -> Status.Code.INTERNAL;
    };
  }

  /** {@code failure} as a status whose description says {@code what} failed and why. */
  public static Status toStatus(String what, Throwable failure) {
    if (failure instanceof StatusRuntimeException e) {
      return e.getStatus();
    }
    String message = failure.getMessage() != null ? failure.getMessage() : failure.getClass().getSimpleName();
    return Status.fromCode(code(failure)).withDescription(what.isEmpty() ? message : what + ": " + message);
  }
}
