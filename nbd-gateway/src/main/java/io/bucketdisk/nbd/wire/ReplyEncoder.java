package io.bucketdisk.nbd.wire;

import java.nio.ByteBuffer;

/**
 * Encodes transmission replies ("Simple reply message", "Structured reply chunk message", "Extended reply
 * chunk message") into a caller-owned buffer. Pure: no I/O, no allocation.
 */
public final class ReplyEncoder {
  private ReplyEncoder() {}

  /** Writes a 16-byte simple reply header. */
  public static void simple(ByteBuffer buf, int error, long cookie) {
    buf.putInt(NbdConstants.SIMPLE_REPLY_MAGIC);
    buf.putInt(error);
    buf.putLong(cookie);
  }

  /** The chunk header size for the negotiated mode. */
  public static int chunkHeaderSize(boolean extended) {
    return extended ? NbdConstants.EXTENDED_REPLY_SIZE : NbdConstants.STRUCTURED_REPLY_SIZE;
  }

  /**
   * Writes a structured (20-byte) or extended (32-byte) chunk header; {@code offset} is only on the wire in
   * extended mode, where it MUST echo the request offset.
   */
  public static void chunk(
      ByteBuffer buf, boolean extended, int flags, int type, long cookie, long offset, long payloadLength) {
    buf.putInt(extended ? NbdConstants.EXTENDED_REPLY_MAGIC : NbdConstants.STRUCTURED_REPLY_MAGIC);
    buf.putShort((short) flags);
    buf.putShort((short) type);
    buf.putLong(cookie);
    if (extended) {
      buf.putLong(offset);
      buf.putLong(payloadLength);
    } else {
      buf.putInt((int) payloadLength);
    }
  }

  /** Payload length of an NBD_REPLY_TYPE_ERROR chunk with a message of {@code messageLength} bytes. */
  public static int errorPayloadLength(int messageLength) {
    return 6 + messageLength;
  }

  /** Writes an NBD_REPLY_TYPE_ERROR payload: u32 error, u16 message length, message. */
  public static void errorPayload(ByteBuffer buf, int error, byte[] message) {
    buf.putInt(error);
    buf.putShort((short) message.length);
    buf.put(message);
  }

  /** Payload length of a BLOCK_STATUS chunk with {@code extents} descriptors. */
  public static int blockStatusPayloadLength(boolean extended, int extents) {
    return extended ? 8 + 16 * extents : 4 + 8 * extents;
  }

  /**
   * Writes an NBD_REPLY_TYPE_BLOCK_STATUS (u32 id, n x {u32 length, u32 flags}) or, extended,
   * NBD_REPLY_TYPE_BLOCK_STATUS_EXT (u32 id, u32 n, n x {u64 length, u64 flags}) payload.
   */
  public static void blockStatusPayload(
      ByteBuffer buf, boolean extended, int contextId, long[] lengths, int[] flags, int count) {
    buf.putInt(contextId);
    if (extended) {
      buf.putInt(count);
      for (int i = 0; i < count; i++) {
        buf.putLong(lengths[i]);
        buf.putLong(Integer.toUnsignedLong(flags[i]));
      }
    } else {
      for (int i = 0; i < count; i++) {
        buf.putInt((int) lengths[i]);
        buf.putInt(flags[i]);
      }
    }
  }
}
