package io.bucketdisk.nbd.wire;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Encodes and decodes the fixed-newstyle handshake ("Option haggling"): option headers, the data of
 * NBD_OPT_INFO/GO and *_META_CONTEXT, and option replies. Pure: no I/O.
 */
public final class OptionCodec {
  private OptionCodec() {}

  /** A client option header: option number and announced data length (u32). */
  public record OptionHeader(int option, long length) {}

  /** The data of NBD_OPT_INFO and NBD_OPT_GO: export name and requested information types. */
  public record ExportRequest(String name, List<Integer> infos) {}

  /** The data of NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT. */
  public record MetaContextRequest(String exportName, List<String> queries) {}

  /** Writes the 18-byte server greeting: NBDMAGIC, IHAVEOPT, handshake flags. */
  public static void greeting(ByteBuffer buf, int handshakeFlags) {
    buf.putLong(NbdConstants.NBDMAGIC);
    buf.putLong(NbdConstants.IHAVEOPT);
    buf.putShort((short) handshakeFlags);
  }

  /**
   * Decodes a 16-byte option header.
   *
   * @throws ProtocolException on a bad IHAVEOPT magic (framing lost)
   */
  public static OptionHeader decodeHeader(ByteBuffer buf) throws ProtocolException {
    long magic = buf.getLong();
    if (magic != NbdConstants.IHAVEOPT) {
      throw new ProtocolException("bad option magic 0x" + Long.toHexString(magic));
    }
    int option = buf.getInt();
    long length = Integer.toUnsignedLong(buf.getInt());
    return new OptionHeader(option, length);
  }

  /** Writes a 20-byte option reply header. */
  public static void replyHeader(ByteBuffer buf, int option, int replyType, int length) {
    buf.putLong(NbdConstants.OPTION_REPLY_MAGIC);
    buf.putInt(option);
    buf.putInt(replyType);
    buf.putInt(length);
  }

  /** Decodes NBD_OPT_INFO/GO data: u32 name length, name, u16 n, n x u16 info type. */
  public static ExportRequest decodeExportRequest(ByteBuffer data) throws OptionFormatException {
    String name = string(data, u32Length(data));
    if (data.remaining() < 2) {
      throw new OptionFormatException("missing information request count");
    }
    int n = Short.toUnsignedInt(data.getShort());
    if (data.remaining() != 2 * n) {
      throw new OptionFormatException(
          n + " information requests announced but " + data.remaining() + " bytes follow");
    }
    var infos = new ArrayList<Integer>(n);
    for (int i = 0; i < n; i++) {
      infos.add(Short.toUnsignedInt(data.getShort()));
    }
    return new ExportRequest(name, infos);
  }

  /** Encodes NBD_OPT_INFO/GO data (for clients and tests). */
  public static ByteBuffer encodeExportRequest(String name, int... infos) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    var buf = ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length);
    buf.putInt(n.length).put(n).putShort((short) infos.length);
    for (int info : infos) {
      buf.putShort((short) info);
    }
    return buf.flip();
  }

  /** Decodes *_META_CONTEXT data: u32 name length, name, u32 n, n x {u32 length, query}. */
  public static MetaContextRequest decodeMetaContextRequest(ByteBuffer data) throws OptionFormatException {
    String name = string(data, u32Length(data));
    if (data.remaining() < 4) {
      throw new OptionFormatException("missing query count");
    }
    long n = Integer.toUnsignedLong(data.getInt());
    // Each query needs at least its 4-byte length: bound n by the bytes present before allocating.
    if (n > data.remaining() / 4) {
      throw new OptionFormatException(n + " queries announced but only " + data.remaining() + " bytes follow");
    }
    var queries = new ArrayList<String>((int) n);
    for (long i = 0; i < n; i++) {
      queries.add(string(data, u32Length(data)));
    }
    if (data.hasRemaining()) {
      throw new OptionFormatException(data.remaining() + " trailing bytes after the queries");
    }
    return new MetaContextRequest(name, queries);
  }

  /** Encodes *_META_CONTEXT data (for clients and tests). */
  public static ByteBuffer encodeMetaContextRequest(String exportName, List<String> queries) {
    byte[] n = exportName.getBytes(StandardCharsets.UTF_8);
    int size = 4 + n.length + 4;
    var qs = new ArrayList<byte[]>();
    for (String q : queries) {
      byte[] b = q.getBytes(StandardCharsets.UTF_8);
      qs.add(b);
      size += 4 + b.length;
    }
    var buf = ByteBuffer.allocate(size);
    buf.putInt(n.length).put(n).putInt(qs.size());
    for (byte[] q : qs) {
      buf.putInt(q.length).put(q);
    }
    return buf.flip();
  }

  /** NBD_REP_SERVER data: u32 name length, name, description. */
  public static ByteBuffer server(String name, String description) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    byte[] d = description.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(4 + n.length + d.length).putInt(n.length).put(n).put(d).flip();
  }

  /** NBD_REP_INFO data for NBD_INFO_EXPORT: u16 type, u64 size, u16 transmission flags (12 bytes). */
  public static ByteBuffer infoExport(long size, int transmissionFlags) {
    return ByteBuffer.allocate(12)
        .putShort((short) NbdConstants.INFO_EXPORT)
        .putLong(size)
        .putShort((short) transmissionFlags)
        .flip();
  }

  /** NBD_REP_INFO data for NBD_INFO_NAME or NBD_INFO_DESCRIPTION: u16 type, text. */
  public static ByteBuffer infoText(int type, String text) {
    byte[] t = text.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(2 + t.length).putShort((short) type).put(t).flip();
  }

  /** NBD_REP_INFO data for NBD_INFO_BLOCK_SIZE: u16 type, u32 minimum, preferred, maximum (14 bytes). */
  public static ByteBuffer infoBlockSize(int minimum, int preferred, int maximum) {
    return ByteBuffer.allocate(14)
        .putShort((short) NbdConstants.INFO_BLOCK_SIZE)
        .putInt(minimum)
        .putInt(preferred)
        .putInt(maximum)
        .flip();
  }

  /** NBD_REP_META_CONTEXT data: u32 context id, name. */
  public static ByteBuffer metaContext(int id, String name) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(4 + n.length).putInt(id).put(n).flip();
  }

  /** UTF-8 message bytes for an error reply, truncated to the protocol's string limit. */
  public static byte[] message(String text) {
    byte[] b = text.getBytes(StandardCharsets.UTF_8);
    return b.length <= NbdConstants.MAX_STRING ? b : java.util.Arrays.copyOf(b, NbdConstants.MAX_STRING);
  }

  private static int u32Length(ByteBuffer data) throws OptionFormatException {
    if (data.remaining() < 4) {
      throw new OptionFormatException("truncated string length");
    }
    long len = Integer.toUnsignedLong(data.getInt());
    if (len > data.remaining()) {
      throw new OptionFormatException("string of " + len + " bytes overruns the option (" + data.remaining() + " left)");
    }
    if (len > NbdConstants.MAX_STRING) {
      throw new OptionFormatException("string of " + len + " bytes exceeds the 4096-byte limit");
    }
    return (int) len;
  }

  private static String string(ByteBuffer data, int length) throws OptionFormatException {
    var slice = data.slice(data.position(), length);
    data.position(data.position() + length);
    try {
      String s =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(slice)
              .toString();
      if (s.indexOf('\0') >= 0) {
        throw new OptionFormatException("string contains NUL");
      }
      return s;
    } catch (CharacterCodingException e) {
      throw new OptionFormatException("string is not valid UTF-8");
    }
  }
}
