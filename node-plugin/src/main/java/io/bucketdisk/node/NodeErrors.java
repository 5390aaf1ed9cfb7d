package io.bucketdisk.node;

import io.bucketdisk.rpc.GrpcErrors;
import io.bucketdisk.node.nbd.NbdHandshakeException;
import io.bucketdisk.node.netlink.NetlinkException;
import io.bucketdisk.node.os.ErrnoException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the node's own failures into the CSI spec's gRPC codes (spec.md "Error Scheme"): missing export → NOT_FOUND,
 * missing nbd module or privileges → FAILED_PRECONDITION with the fix in the message, gateway unreachable →
 * UNAVAILABLE, tool or kernel failures → INTERNAL; anything else as every bucketdisk service maps it ({@link
 * GrpcErrors}, docs/errors.md). Messages carry the volume id, never secrets.
 */
final class NodeErrors {
  private static final Logger log = LoggerFactory.getLogger(NodeErrors.class);

  private NodeErrors() {}

  static StatusRuntimeException invalid(String message) {
    return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
  }

  static StatusRuntimeException notFound(String message) {
    return Status.NOT_FOUND.withDescription(message).asRuntimeException();
  }

  static StatusRuntimeException precondition(String message) {
    return Status.FAILED_PRECONDITION.withDescription(message).asRuntimeException();
  }

  static StatusRuntimeException alreadyExists(String message) {
    return Status.ALREADY_EXISTS.withDescription(message).asRuntimeException();
  }

  static StatusRuntimeException toStatus(String rpc, String volumeId, Throwable t) {
    if (t instanceof StatusRuntimeException s) {
      return s;
    }
    String what = rpc + " " + volumeId + ": " + t.getMessage();
    Status status = switch (t) {
      case NbdHandshakeException h when h.exportMissing() -> Status.NOT_FOUND;
      case NbdHandshakeException h when h.refusedByPolicy() -> Status.PERMISSION_DENIED;
      case NbdHandshakeException h -> Status.UNAVAILABLE;
      case NetlinkException n when n.errno() == ErrnoException.ENOENT || n.errno() == ErrnoException.EPERM ->
          Status.FAILED_PRECONDITION;
      case NetlinkException n when n.errno() == ErrnoException.EBUSY -> Status.UNAVAILABLE;
      case NetlinkException n -> Status.INTERNAL;
      case Mounter.ToolException m -> Status.INTERNAL;
      case ErrnoException e -> Status.UNAVAILABLE; // connecting to the gateway failed
      case IOException e when e.getCause() instanceof ErrnoException -> Status.UNAVAILABLE;
      default -> Status.fromCode(GrpcErrors.code(t));
    };
    if (status.getCode() == Status.Code.INTERNAL) {
      log.warn("{}", what, t);
    } else {
      log.info("{} -> {}", what, status.getCode());
    }
    return status.withDescription(what).asRuntimeException();
  }
}
