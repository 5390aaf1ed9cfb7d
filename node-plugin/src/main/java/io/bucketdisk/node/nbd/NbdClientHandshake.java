package io.bucketdisk.node.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;

/**
 * Negotiates one connection up to the transmission phase, as the kernel needs it (reference §1.3–1.7):
 * read the greeting ({@code NBDMAGIC}, {@code IHAVEOPT}, handshake flags; fixed newstyle required), send the
 * client flags, then {@code NBD_OPT_GO} with the export name and one info request ({@code NBD_INFO_BLOCK_SIZE}),
 * collecting {@code NBD_REP_INFO} until {@code NBD_REP_ACK}. A server that answers GO with {@code ERR_UNSUP}
 * gets {@code NBD_OPT_EXPORT_NAME}. Blocking; one call per channel; the channel's own timeouts bound it.
 *
 * <p>For TLS the steps run apart: {@link #greet}, {@link #startTls} (NBD_OPT_STARTTLS, expecting ACK; the caller then
 * runs the TLS handshake on the same socket), and {@link #go} over the encrypted stream.
 */
public final class NbdClientHandshake {
  static final long NBDMAGIC = 0x4e42444d41474943L, IHAVEOPT = 0x49484156454F5054L, REPLY_MAGIC = 0x0003e889045565a9L;
  static final int FLAG_FIXED_NEWSTYLE = 1, FLAG_NO_ZEROES = 2;
  static final int OPT_EXPORT_NAME = 1, OPT_STARTTLS = 5, OPT_GO = 7;
  static final int REP_ACK = 1, REP_INFO = 3, REP_ERR_UNSUP = 0x80000001, REP_ERR_POLICY = 0x80000002,
      REP_ERR_UNKNOWN = 0x80000006;
  static final int INFO_EXPORT = 0, INFO_BLOCK_SIZE = 3;
  private static final int MAX_REPLY = 64 * 1024;

  private NbdClientHandshake() {}

  /** Runs the handshake for {@code exportName} on {@code ch} and returns what the server said. */
  public static NegotiatedExport negotiate(ByteChannel ch, String exportName) throws IOException {
    return go(ch, exportName, greet(ch));
  }

  /** Reads the greeting and answers with the client flags; whether NO_ZEROES was agreed. */
  public static boolean greet(ByteChannel ch) throws IOException {
    var greeting = readFully(ch, 18);
    if (greeting.getLong() != NBDMAGIC) {
      throw new NbdHandshakeException("not an NBD server (no NBDMAGIC)", false);
    }
    if (greeting.getLong() != IHAVEOPT) {
      throw new NbdHandshakeException("server speaks oldstyle NBD; newstyle is required", false);
    }
    int handshakeFlags = Short.toUnsignedInt(greeting.getShort());
    if ((handshakeFlags & FLAG_FIXED_NEWSTYLE) == 0) {
      throw new NbdHandshakeException("server does not offer fixed newstyle negotiation", false);
    }
    boolean noZeroes = (handshakeFlags & FLAG_NO_ZEROES) != 0;
    writeFully(ch, ByteBuffer.allocate(4).putInt(FLAG_FIXED_NEWSTYLE | (noZeroes ? FLAG_NO_ZEROES : 0)).flip());
    return noZeroes;
  }

  /** Sends NBD_OPT_STARTTLS and waits for its ACK; the TLS handshake comes next, on the same socket. */
  public static void startTls(ByteChannel ch) throws IOException {
    writeFully(ch, ByteBuffer.allocate(16).putLong(IHAVEOPT).putInt(OPT_STARTTLS).putInt(0).flip());
    var hdr = readFully(ch, 20);
    if (hdr.getLong() != REPLY_MAGIC || hdr.getInt() != OPT_STARTTLS) {
      throw new NbdHandshakeException("bad reply to STARTTLS", false);
    }
    int type = hdr.getInt();
    int len = hdr.getInt();
    if (len < 0 || len > MAX_REPLY) {
      throw new NbdHandshakeException("bad reply to STARTTLS (length " + len + ")", false);
    }
    String msg = StandardCharsets.UTF_8.decode(readFully(ch, len)).toString();
    if (type != REP_ACK) {
      throw new NbdHandshakeException("server refused STARTTLS: " + errorName(type) + (msg.isEmpty() ? "" : " (" + msg
          + ")"), false);
    }
  }

  /** NBD_OPT_GO for {@code exportName} (after {@link #greet}, and {@link #startTls} plus TLS if any). */
  public static NegotiatedExport go(ByteChannel ch, String exportName, boolean noZeroes) throws IOException {
    byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
    writeFully(ch, goOption(name));
    long size = -1;
    int flags = 0, min = 0, pref = 0, max = 0;
    while (true) {
      var hdr = readFully(ch, 20);
      if (hdr.getLong() != REPLY_MAGIC) {
        throw new NbdHandshakeException("bad option reply magic", false);
      }
      int option = hdr.getInt();
      int type = hdr.getInt();
      int len = hdr.getInt();
      if (option != OPT_GO || len < 0 || len > MAX_REPLY) {
        throw new NbdHandshakeException("unexpected option reply (option " + option + ", length " + len + ")", false);
      }
      var data = readFully(ch, len);
      if (type == REP_ACK) {
        break;
      }
      if (type == REP_INFO && len >= 2) {
        int info = Short.toUnsignedInt(data.getShort());
        if (info == INFO_EXPORT && len == 12) {
          size = data.getLong();
          flags = Short.toUnsignedInt(data.getShort());
        } else if (info == INFO_BLOCK_SIZE && len == 14) {
          min = data.getInt();
          pref = data.getInt();
          max = data.getInt();
        }
        continue;
      }
      if (type == REP_ERR_UNSUP) {
        return exportName(ch, name, noZeroes);
      }
      if (type < 0) {
        String msg = StandardCharsets.UTF_8.decode(data).toString();
        boolean unknown = type == REP_ERR_UNKNOWN;
        throw new NbdHandshakeException("server refused export '" + exportName + "': " + errorName(type)
            + (msg.isEmpty() ? "" : " (" + msg + ")"), unknown, type == REP_ERR_POLICY);
      }
      // Unknown non-error replies are ignored, as the spec asks of clients.
    }
    if (size < 0) {
      throw new NbdHandshakeException("server ended GO without NBD_INFO_EXPORT", false);
    }
    return new NegotiatedExport(size, flags, min, pref, max);
  }

  static ByteBuffer goOption(byte[] name) {
    var b = ByteBuffer.allocate(16 + 4 + name.length + 2 + 2);
    b.putLong(IHAVEOPT).putInt(OPT_GO).putInt(4 + name.length + 2 + 2);
    b.putInt(name.length).put(name).putShort((short) 1).putShort((short) INFO_BLOCK_SIZE);
    return b.flip();
  }

  private static NegotiatedExport exportName(ByteChannel ch, byte[] name, boolean noZeroes) throws IOException {
    writeFully(ch, ByteBuffer.allocate(16 + name.length).putLong(IHAVEOPT).putInt(OPT_EXPORT_NAME)
        .putInt(name.length).put(name).flip());
    var reply = readFully(ch, noZeroes ? 10 : 134);
    return new NegotiatedExport(reply.getLong(), Short.toUnsignedInt(reply.getShort()), 0, 0, 0);
  }

  static String errorName(int type) {
    return switch (type) {
      case 0x80000001 -> "ERR_UNSUP";
      case 0x80000002 -> "ERR_POLICY";
      case 0x80000003 -> "ERR_INVALID";
      case 0x80000004 -> "ERR_PLATFORM";
      case 0x80000005 -> "ERR_TLS_REQD";
      case 0x80000006 -> "ERR_UNKNOWN (no such export)";
      case 0x80000007 -> "ERR_SHUTDOWN";
      case 0x80000008 -> "ERR_BLOCK_SIZE_REQD";
      case 0x80000009 -> "ERR_TOO_BIG";
      default -> "error " + Integer.toHexString(type);
    };
  }

  private static ByteBuffer readFully(ByteChannel ch, int n) throws IOException {
    var b = ByteBuffer.allocate(n);
    while (b.hasRemaining()) {
      if (ch.read(b) < 0) {
        throw new EOFException("server closed the connection during the handshake");
      }
    }
    return b.flip();
  }

  private static void writeFully(ByteChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }
}
