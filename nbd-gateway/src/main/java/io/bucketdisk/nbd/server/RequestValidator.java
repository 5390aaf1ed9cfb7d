package io.bucketdisk.nbd.server;

import static io.bucketdisk.nbd.wire.NbdConstants.*;

import io.bucketdisk.nbd.export.NbdError;
import io.bucketdisk.nbd.handshake.ExportInfo;
import io.bucketdisk.nbd.wire.RequestHeader;
import org.jspecify.annotations.Nullable;

/**
 * Decides whether a well-framed request may reach the export, and if not which error the client gets (NBD spec
 * "Malformed or invalid requests" and the per-command rules). Pure; one instance per connection.
 *
 * <p>Checks run in this order, the first failing one decides: unknown command, flags not valid for the command
 * or not advertised, capability not advertised, read-only export (EPERM), range past the end (EINVAL for
 * READ/TRIM/CACHE/BLOCK_STATUS, ENOSPC for WRITE/WRITE_ZEROES), misalignment to the minimum block size, and
 * payload size (EINVAL, or EOVERFLOW for a structured READ larger than one chunk may carry).
 */
final class RequestValidator {

  /** Why a request is refused. */
  record Rejection(NbdError error, String reason) {}

  private final ExportInfo info;
  private final boolean structured;
  private final boolean extended;
  private final boolean hasContexts;

  RequestValidator(ExportInfo info, boolean structured, boolean extended, boolean hasContexts) {
    this.info = info;
    this.structured = structured;
    this.extended = extended;
    this.hasContexts = hasContexts;
  }

  /** Null when {@code h} may be executed on an export of {@code size} bytes; otherwise the rejection. */
  @Nullable Rejection validate(RequestHeader h, long size) {
    int type = h.type();
    if (type > CMD_BLOCK_STATUS) {
      return reject(NbdError.EINVAL, "unknown command " + type);
    }
    int flags = h.flags();
    int allowed = allowedFlags(type);
    if ((flags & ~allowed) != 0) {
      return reject(
          NbdError.EINVAL,
          "flags 0x" + Integer.toHexString(flags & ~allowed) + " not valid for " + commandName(type));
    }
    if (extended && type == CMD_WRITE && !h.has(CMD_FLAG_PAYLOAD_LEN)) {
      return reject(NbdError.EINVAL, "extended WRITE without PAYLOAD_LEN");
    }
    int tflags = info.transmissionFlags();
    switch (type) {
      case CMD_FLUSH -> {
        if ((tflags & FLAG_SEND_FLUSH) == 0) {
          return reject(NbdError.EINVAL, "FLUSH not advertised");
        }
        if (h.offset() != 0 || h.length() != 0) {
          return reject(NbdError.EINVAL, "FLUSH with non-zero offset or length");
        }
        return null;
      }
      case CMD_TRIM -> {
        if ((tflags & FLAG_READ_ONLY) != 0) {
          return reject(NbdError.EPERM, "TRIM on a read-only export");
        }
        if ((tflags & FLAG_SEND_TRIM) == 0) {
          return reject(NbdError.EINVAL, "TRIM not advertised");
        }
      }
      case CMD_WRITE_ZEROES -> {
        if ((tflags & FLAG_READ_ONLY) != 0) {
          return reject(NbdError.EPERM, "WRITE_ZEROES on a read-only export");
        }
        if ((tflags & FLAG_SEND_WRITE_ZEROES) == 0) {
          return reject(NbdError.EINVAL, "WRITE_ZEROES not advertised");
        }
      }
      case CMD_WRITE -> {
        if ((tflags & FLAG_READ_ONLY) != 0) {
          return reject(NbdError.EPERM, "WRITE on a read-only export");
        }
      }
      case CMD_CACHE -> {
        if ((tflags & FLAG_SEND_CACHE) == 0) {
          return reject(NbdError.EINVAL, "CACHE not advertised");
        }
      }
      case CMD_BLOCK_STATUS -> {
        if (!structured || !hasContexts) {
          return reject(NbdError.EINVAL, "BLOCK_STATUS without a selected metadata context");
        }
      }
      default -> {}
    }
    long offset = h.offset();
    long length = h.length();
    if (length == 0) {
      return reject(NbdError.EINVAL, "zero-length " + commandName(type));
    }
    // offset and length are unsigned on the wire: a negative long is past any end.
    if (offset < 0 || length < 0 || length > size - offset || offset > size) {
      boolean writes = type == CMD_WRITE || type == CMD_WRITE_ZEROES;
      return reject(
          writes ? NbdError.ENOSPC : NbdError.EINVAL,
          commandName(type) + " of " + Long.toUnsignedString(length) + " bytes at "
              + Long.toUnsignedString(offset) + " is past the end (" + size + ")");
    }
    int min = info.minimumBlockSize();
    if (min > 1 && ((offset | length) & (min - 1)) != 0) {
      return reject(NbdError.EINVAL, "not aligned to the minimum block size " + min);
    }
    if ((type == CMD_READ || type == CMD_WRITE) && length > info.maximumPayload()) {
      NbdError e = type == CMD_READ && structured ? NbdError.EOVERFLOW : NbdError.EINVAL;
      return reject(e, commandName(type) + " of " + length + " bytes exceeds the maximum payload");
    }
    return null;
  }

  private int allowedFlags(int type) {
    int tflags = info.transmissionFlags();
    int fua = (tflags & FLAG_SEND_FUA) != 0 ? CMD_FLAG_FUA : 0;
    int payload = extended && type == CMD_WRITE ? CMD_FLAG_PAYLOAD_LEN : 0;
    return fua
        | payload
        | switch (type) {
          case CMD_READ -> (tflags & FLAG_SEND_DF) != 0 ? CMD_FLAG_DF : 0;
          case CMD_WRITE_ZEROES ->
              CMD_FLAG_NO_HOLE | ((tflags & FLAG_SEND_FAST_ZERO) != 0 ? CMD_FLAG_FAST_ZERO : 0);
          case CMD_BLOCK_STATUS -> CMD_FLAG_REQ_ONE;
          default -> 0;
        };
  }

  private static Rejection reject(NbdError error, String reason) {
    return new Rejection(error, reason);
  }
}
