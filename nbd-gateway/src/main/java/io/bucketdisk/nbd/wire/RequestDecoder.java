package io.bucketdisk.nbd.wire;

import java.nio.ByteBuffer;

/**
 * Decodes transmission request headers ("Request message"; extended headers from the {@code
 * extension-ext-header} branch). Pure: no I/O, no allocation beyond the returned record.
 */
public final class RequestDecoder {
  private RequestDecoder() {}

  /** The header size for the negotiated mode. */
  public static int headerSize(boolean extended) {
    return extended ? NbdConstants.EXTENDED_REQUEST_SIZE : NbdConstants.REQUEST_SIZE;
  }

  /**
   * Decodes one header from the {@link #headerSize} bytes at {@code buf}'s position, advancing it.
   *
   * @throws ProtocolException when the magic is wrong for the negotiated mode (framing lost)
   */
  public static RequestHeader decode(ByteBuffer buf, boolean extended) throws ProtocolException {
    int magic = buf.getInt();
    int expected = extended ? NbdConstants.EXTENDED_REQUEST_MAGIC : NbdConstants.REQUEST_MAGIC;
    if (magic != expected) {
      throw new ProtocolException(
          "bad request magic 0x" + Integer.toHexString(magic) + ", expected 0x" + Integer.toHexString(expected));
    }
    int flags = Short.toUnsignedInt(buf.getShort());
    int type = Short.toUnsignedInt(buf.getShort());
    long cookie = buf.getLong();
    long offset = buf.getLong();
    long length = extended ? buf.getLong() : Integer.toUnsignedLong(buf.getInt());
    return new RequestHeader(flags, type, cookie, offset, length, extended);
  }

  /** Encodes a request (for clients and tests): the inverse of {@link #decode}. */
  public static void encode(ByteBuffer buf, RequestHeader h) {
    buf.putInt(h.extended() ? NbdConstants.EXTENDED_REQUEST_MAGIC : NbdConstants.REQUEST_MAGIC);
    buf.putShort((short) h.flags());
    buf.putShort((short) h.type());
    buf.putLong(h.cookie());
    buf.putLong(h.offset());
    if (h.extended()) {
      buf.putLong(h.length());
    } else {
      buf.putInt((int) h.length());
    }
  }
}
