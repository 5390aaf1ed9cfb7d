package io.bucketdisk.controller;

import io.bucketdisk.rpc.GrpcErrors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the controller's failures become CSI gRPC statuses (spec.md §Error Scheme and the per-RPC tables): its own
 * {@link VolumeError} reasons here, everything else by {@link GrpcErrors}, the mapping every bucketdisk gRPC service
 * shares (docs/errors.md). Every handler runs inside {@link #reply}, so no exception leaves as UNKNOWN and every
 * status carries a human message (the cause never crosses the wire).
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
final class ControllerErrors {

  private static final Logger log = LoggerFactory.getLogger(ControllerErrors.class);

  private ControllerErrors() {}

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
      case IOException e -> GrpcErrors.toStatus("store", e);
      case IllegalArgumentException e -> GrpcErrors.toStatus("", e);
      case StatusRuntimeException e -> e.getStatus();
      default -> GrpcErrors.toStatus(t.getClass().getSimpleName(), t);
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
