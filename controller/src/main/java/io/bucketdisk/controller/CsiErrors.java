package io.bucketdisk.controller;

import io.bucketdisk.store.StoreException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where failures become CSI gRPC statuses (spec.md §Error Scheme and the per-RPC tables). Every
 * handler runs inside {@link #reply}, so no exception leaves as UNKNOWN and every status carries a human message
 * (the cause never crosses the wire; what the operator needs is in the description).
 *
 * <table>
 *   <caption>Mapping</caption>
 *   <tr><td>{@link VolumeError} INVALID / NOT_FOUND / ALREADY_EXISTS / OUT_OF_RANGE</td><td>the code of that name</td></tr>
 *   <tr><td>PRECONDITION</td><td>FAILED_PRECONDITION</td></tr>
 *   <tr><td>PENDING, BAD_TOKEN</td><td>ABORTED</td></tr>
 *   <tr><td>UNAVAILABLE; {@link StoreException} TRANSIENT</td><td>UNAVAILABLE</td></tr>
 *   <tr><td>StoreException NOT_FOUND / CONFLICT / PERMANENT</td><td>NOT_FOUND / ABORTED / INTERNAL</td></tr>
 *   <tr><td>{@link IllegalArgumentException} (the store's id and size checks)</td><td>INVALID_ARGUMENT</td></tr>
 *   <tr><td>anything else</td><td>INTERNAL, logged with its stack trace</td></tr>
 * </table>
 */
final class CsiErrors {

  private static final Logger log = LoggerFactory.getLogger(CsiErrors.class);

  private CsiErrors() {}

  /** A handler body that may fail. */
  interface Body<T> {
    T run() throws IOException;
  }

  /** Runs {@code body} and sends its result, or the mapped status, to {@code out}. */
  static <T> void reply(String method, StreamObserver<T> out, Body<T> body) {
    T result;
    try {
      result = body.run();
    } catch (Throwable t) {
      var status = toStatus(t);
      if (status.getCode() == Status.Code.INTERNAL) {
        log.error("{} failed: {}", method, status.getDescription(), t);
      } else if (status.getCode() != Status.Code.NOT_FOUND && status.getCode() != Status.Code.INVALID_ARGUMENT) {
        log.warn("{} failed: {} {}", method, status.getCode(), status.getDescription());
      } else {
        log.debug("{}: {} {}", method, status.getCode(), status.getDescription());
      }
      out.onError(status.asRuntimeException());
      return;
    }
    out.onNext(result);
    out.onCompleted();
  }

  static Status toStatus(Throwable t) {
    return switch (t) {
      case VolumeError e -> Status.fromCode(code(e.reason())).withDescription(e.getMessage());
      case StoreException e -> Status.fromCode(switch (e.kind()) {
        case TRANSIENT -> Status.Code.UNAVAILABLE;
        case NOT_FOUND -> Status.Code.NOT_FOUND;
        case CONFLICT -> Status.Code.ABORTED;
        case PERMANENT -> Status.Code.INTERNAL;
      }).withDescription("store: " + e.getMessage());
      case IllegalArgumentException e -> Status.INVALID_ARGUMENT.withDescription(e.getMessage());
      case StatusRuntimeException e -> e.getStatus();
      case IOException e -> Status.UNAVAILABLE.withDescription("store I/O failed: " + e.getMessage());
      default -> Status.INTERNAL.withDescription(t.getClass().getSimpleName() + ": " + t.getMessage());
    };
  }

  static Status.Code code(VolumeError.Reason reason) {
    return switch (reason) {
      case INVALID -> Status.Code.INVALID_ARGUMENT;
      case NOT_FOUND -> Status.Code.NOT_FOUND;
      case ALREADY_EXISTS -> Status.Code.ALREADY_EXISTS;
      case OUT_OF_RANGE -> Status.Code.OUT_OF_RANGE;
      case PRECONDITION -> Status.Code.FAILED_PRECONDITION;
      case PENDING, BAD_TOKEN -> Status.Code.ABORTED;
      case UNAVAILABLE -> Status.Code.UNAVAILABLE;
    };
  }
}
