package io.bucketdisk.nbd.wire;

/**
 * One decoded transmission request ("Request message", compact or extended).
 *
 * @param flags command flags (u16)
 * @param type command type (u16)
 * @param cookie opaque client cookie, echoed in the reply
 * @param offset byte offset (u64, may be "negative" as a Java long when the client sent a huge value)
 * @param length effect length or, for WRITE and PAYLOAD_LEN, payload length (u32 compact, u64 extended)
 * @param extended whether this came in a 32-byte extended header
 */
public record RequestHeader(int flags, int type, long cookie, long offset, long length, boolean extended) {

  /** Whether a payload of {@link #length} bytes follows this header on the wire. */
  public boolean hasPayload() {
    return type == NbdConstants.CMD_WRITE || (extended && (flags & NbdConstants.CMD_FLAG_PAYLOAD_LEN) != 0);
  }

  /** Whether {@code flag} is set. */
  public boolean has(int flag) {
    return (flags & flag) != 0;
  }
}
