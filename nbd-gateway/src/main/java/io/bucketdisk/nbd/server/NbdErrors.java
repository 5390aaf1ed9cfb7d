package io.bucketdisk.nbd.server;

import io.bucketdisk.engine.EngineException;
import io.bucketdisk.nbd.export.ExportException;
import io.bucketdisk.nbd.export.NbdError;
import io.bucketdisk.nbd.wire.NbdConstants;
import io.bucketdisk.nbd.wire.RequestHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where a failure of a verb becomes the NBD error a client sees (NBD spec "Error values"), logged
 * by blame first because the client only sees the reduced code: shutdown at info, an export's own
 * {@link ExportException} at warn, any other I/O error as EIO at warn, a {@link RuntimeException} as a bug at
 * error. ENOTSUP only reaches clients that sent FAST_ZERO; EOVERFLOW only those that sent DF.
 *
 * <p>The volume engine's {@link EngineException} kinds: CLOSED is ESHUTDOWN, READ_ONLY is EPERM, INVALID is EINVAL,
 * IO is EIO, and FENCED (another gateway holds the volume's lease) is EIO too: NBD has no error for "not yours any
 * more", and the kernel must fail the I/O rather than retry it here.
 */
final class NbdErrors {
  private static final Logger log = LoggerFactory.getLogger(NbdErrors.class);

  private NbdErrors() {}

  static NbdError map(Throwable t, RequestHeader h, String export) {
    String what = NbdConstants.commandName(h.type());
    if (t instanceof EngineException e) {
      NbdError error = of(e.kind());
      if (error == NbdError.ESHUTDOWN) {
        log.info("{} on {}: shutting down", what, export);
      } else {
        log.warn("{} on {} at {} (+{}) failed with {} ({}): {}", what, export, h.offset(), h.length(), error, e.kind(),
            e.getMessage());
      }
      return error;
    }
    if (t instanceof ExportException e) {
      NbdError error = e.error();
      if (error == NbdError.ESHUTDOWN) {
        log.info("{} on {}: shutting down", what, export);
        return error;
      }
      if (error == NbdError.ENOTSUP && !h.has(NbdConstants.CMD_FLAG_FAST_ZERO)) {
        error = NbdError.EINVAL;
      }
      if (error == NbdError.EOVERFLOW && !h.has(NbdConstants.CMD_FLAG_DF) && h.type() == NbdConstants.CMD_READ) {
        error = NbdError.EINVAL;
      }
      if (error == NbdError.ENOTSUP && h.has(NbdConstants.CMD_FLAG_FAST_ZERO)) {
        log.debug("{} on {}: fast zero not possible", what, export);
      } else {
        log.warn("{} on {} at {} (+{}) failed with {}: {}", what, export, h.offset(), h.length(), error, e.getMessage());
      }
      return error;
    }
    if (t instanceof java.io.IOException) {
      log.warn("{} on {} at {} (+{}) failed (EIO): {}", what, export, h.offset(), h.length(), t.toString());
      return NbdError.EIO;
    }
    log.error("{} on {} at {} (+{}): bug, answering EIO", what, export, h.offset(), h.length(), t);
    return NbdError.EIO;
  }

  /** The NBD error for a failure of the volume engine. */
  static NbdError of(EngineException.Kind kind) {
    return switch (kind) {
      case IO, FENCED -> NbdError.EIO;
      case READ_ONLY -> NbdError.EPERM;
      case INVALID -> NbdError.EINVAL;
      case CLOSED -> NbdError.ESHUTDOWN;
    };
  }
}
