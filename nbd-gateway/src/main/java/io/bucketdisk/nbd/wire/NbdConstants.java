package io.bucketdisk.nbd.wire;

/**
 * The numbers of the NBD protocol, each cited by the section of {@code doc/proto.md} (NetworkBlockDevice/nbd,
 * and its {@code extension-ext-header} branch for extended headers) that defines it. All multi-byte fields on
 * the wire are big-endian.
 */
public final class NbdConstants {
  private NbdConstants() {}

  // "Handshake" / "Newstyle negotiation": magics.
  /** ASCII {@code NBDMAGIC}, the first 8 bytes the server sends. */
  public static final long NBDMAGIC = 0x4e42444d41474943L;
  /** ASCII {@code IHAVEOPT}: second greeting magic and prefix of every client option. */
  public static final long IHAVEOPT = 0x49484156454F5054L;
  /** "Option reply magic": prefix of every fixed-newstyle option reply. */
  public static final long OPTION_REPLY_MAGIC = 0x0003e889045565a9L;
  /** "Request message": compact 28-byte request. */
  public static final int REQUEST_MAGIC = 0x25609513;
  /** "Extended request": 32-byte request, after NBD_OPT_EXTENDED_HEADERS. */
  public static final int EXTENDED_REQUEST_MAGIC = 0x21e41c71;
  /** "Simple reply message". */
  public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
  /** "Structured reply chunk message". */
  public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;
  /** "Extended reply chunk message". */
  public static final int EXTENDED_REPLY_MAGIC = 0x6e8a278c;

  /** Compact request header size ("Request message"). */
  public static final int REQUEST_SIZE = 28;
  /** Extended request header size. */
  public static final int EXTENDED_REQUEST_SIZE = 32;
  /** Simple reply header size. */
  public static final int SIMPLE_REPLY_SIZE = 16;
  /** Structured reply chunk header size. */
  public static final int STRUCTURED_REPLY_SIZE = 20;
  /** Extended reply chunk header size. */
  public static final int EXTENDED_REPLY_SIZE = 32;
  /** Client option header size: IHAVEOPT, option, length. */
  public static final int OPTION_HEADER_SIZE = 16;
  /** Option reply header size: magic, option, reply type, length. */
  public static final int OPTION_REPLY_HEADER_SIZE = 20;

  // "Handshake flags" and "Client flags".
  public static final int FLAG_FIXED_NEWSTYLE = 1;
  public static final int FLAG_NO_ZEROES = 1 << 1;
  public static final int FLAG_C_FIXED_NEWSTYLE = 1;
  public static final int FLAG_C_NO_ZEROES = 1 << 1;

  // "Option types".
  public static final int OPT_EXPORT_NAME = 1;
  public static final int OPT_ABORT = 2;
  public static final int OPT_LIST = 3;
  public static final int OPT_PEEK_EXPORT = 4;
  public static final int OPT_STARTTLS = 5;
  public static final int OPT_INFO = 6;
  public static final int OPT_GO = 7;
  public static final int OPT_STRUCTURED_REPLY = 8;
  public static final int OPT_LIST_META_CONTEXT = 9;
  public static final int OPT_SET_META_CONTEXT = 10;
  public static final int OPT_EXTENDED_HEADERS = 11;

  // "Option reply types".
  public static final int REP_ACK = 1;
  public static final int REP_SERVER = 2;
  public static final int REP_INFO = 3;
  public static final int REP_META_CONTEXT = 4;
  public static final int REP_ERR_UNSUP = 0x80000001;
  public static final int REP_ERR_POLICY = 0x80000002;
  public static final int REP_ERR_INVALID = 0x80000003;
  public static final int REP_ERR_PLATFORM = 0x80000004;
  public static final int REP_ERR_TLS_REQD = 0x80000005;
  public static final int REP_ERR_UNKNOWN = 0x80000006;
  public static final int REP_ERR_SHUTDOWN = 0x80000007;
  public static final int REP_ERR_BLOCK_SIZE_REQD = 0x80000008;
  public static final int REP_ERR_TOO_BIG = 0x80000009;
  public static final int REP_ERR_EXT_HEADER_REQD = 0x8000000a;

  // "NBD_REP_INFO" information types.
  public static final int INFO_EXPORT = 0;
  public static final int INFO_NAME = 1;
  public static final int INFO_DESCRIPTION = 2;
  public static final int INFO_BLOCK_SIZE = 3;

  // "Transmission flags".
  public static final int FLAG_HAS_FLAGS = 1;
  public static final int FLAG_READ_ONLY = 1 << 1;
  public static final int FLAG_SEND_FLUSH = 1 << 2;
  public static final int FLAG_SEND_FUA = 1 << 3;
  public static final int FLAG_ROTATIONAL = 1 << 4;
  public static final int FLAG_SEND_TRIM = 1 << 5;
  public static final int FLAG_SEND_WRITE_ZEROES = 1 << 6;
  public static final int FLAG_SEND_DF = 1 << 7;
  public static final int FLAG_CAN_MULTI_CONN = 1 << 8;
  public static final int FLAG_SEND_RESIZE = 1 << 9;
  public static final int FLAG_SEND_CACHE = 1 << 10;
  public static final int FLAG_SEND_FAST_ZERO = 1 << 11;

  // "Request types".
  public static final int CMD_READ = 0;
  public static final int CMD_WRITE = 1;
  public static final int CMD_DISC = 2;
  public static final int CMD_FLUSH = 3;
  public static final int CMD_TRIM = 4;
  public static final int CMD_CACHE = 5;
  public static final int CMD_WRITE_ZEROES = 6;
  public static final int CMD_BLOCK_STATUS = 7;

  // "Command flags".
  public static final int CMD_FLAG_FUA = 1;
  public static final int CMD_FLAG_NO_HOLE = 1 << 1;
  public static final int CMD_FLAG_DF = 1 << 2;
  public static final int CMD_FLAG_REQ_ONE = 1 << 3;
  public static final int CMD_FLAG_FAST_ZERO = 1 << 4;
  public static final int CMD_FLAG_PAYLOAD_LEN = 1 << 5;

  // "Structured reply flags" and "Structured reply types".
  public static final int REPLY_FLAG_DONE = 1;
  public static final int REPLY_TYPE_NONE = 0;
  public static final int REPLY_TYPE_OFFSET_DATA = 1;
  public static final int REPLY_TYPE_OFFSET_HOLE = 2;
  public static final int REPLY_TYPE_BLOCK_STATUS = 5;
  public static final int REPLY_TYPE_BLOCK_STATUS_EXT = 6;
  public static final int REPLY_TYPE_ERROR = 0x8001;
  public static final int REPLY_TYPE_ERROR_OFFSET = 0x8002;

  /** "Block size constraints": the largest payload every server should accept, and ours (2^25). */
  public static final int MAX_PAYLOAD = 1 << 25;
  /** "Metadata querying": strings MUST NOT exceed 4096 bytes. */
  public static final int MAX_STRING = 4096;

  /** The name of an option for logs. */
  public static String optionName(int option) {
    return switch (option) {
      case OPT_EXPORT_NAME -> "EXPORT_NAME";
      case OPT_ABORT -> "ABORT";
      case OPT_LIST -> "LIST";
      case OPT_PEEK_EXPORT -> "PEEK_EXPORT";
      case OPT_STARTTLS -> "STARTTLS";
      case OPT_INFO -> "INFO";
      case OPT_GO -> "GO";
      case OPT_STRUCTURED_REPLY -> "STRUCTURED_REPLY";
      case OPT_LIST_META_CONTEXT -> "LIST_META_CONTEXT";
      case OPT_SET_META_CONTEXT -> "SET_META_CONTEXT";
      case OPT_EXTENDED_HEADERS -> "EXTENDED_HEADERS";
      default -> "option " + Integer.toUnsignedString(option);
    };
  }

  /** The name of a command for logs. */
  public static String commandName(int type) {
    return switch (type) {
      case CMD_READ -> "READ";
      case CMD_WRITE -> "WRITE";
      case CMD_DISC -> "DISC";
      case CMD_FLUSH -> "FLUSH";
      case CMD_TRIM -> "TRIM";
      case CMD_CACHE -> "CACHE";
      case CMD_WRITE_ZEROES -> "WRITE_ZEROES";
      case CMD_BLOCK_STATUS -> "BLOCK_STATUS";
      default -> "command " + type;
    };
  }
}
