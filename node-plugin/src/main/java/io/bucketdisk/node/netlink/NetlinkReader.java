package io.bucketdisk.node.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Parses what the kernel sends on a generic netlink socket: a datagram of one or more messages, each either
 * an {@code NLMSG_ERROR} (errno 0 is the ACK) or a generic netlink message with attributes. Malformed input
 * (lengths running past the buffer) raises {@link IllegalArgumentException}. Pure; thread-safe.
 */
final class NetlinkReader {
  private NetlinkReader() {}

  /** One parsed message. {@code error} is set for NLMSG_ERROR (0 = ACK, otherwise a negative errno). */
  record Message(int type, int flags, int seq, int cmd, Attributes attributes, @Nullable Integer error,
      @Nullable String extAckMessage) {
    boolean isAck() {
      return error != null && error == 0;
    }
  }

  static List<Message> parse(ByteBuffer datagram) {
    var in = datagram.duplicate().order(ByteOrder.nativeOrder());
    var out = new ArrayList<Message>();
    while (in.remaining() >= Netlink.NLMSG_HDRLEN) {
      int start = in.position();
      int len = in.getInt(start);
      if (len < Netlink.NLMSG_HDRLEN || len > in.remaining()) {
        throw new IllegalArgumentException("netlink message length " + len + " with " + in.remaining() + " bytes left");
      }
      int type = Short.toUnsignedInt(in.getShort(start + 4));
      int flags = Short.toUnsignedInt(in.getShort(start + 6));
      int seq = in.getInt(start + 8);
      var body = in.slice(start + Netlink.NLMSG_HDRLEN, len - Netlink.NLMSG_HDRLEN).order(ByteOrder.nativeOrder());
      if (type == Netlink.NLMSG_ERROR) {
        out.add(error(type, flags, seq, body));
      } else if (type == Netlink.NLMSG_DONE || type == Netlink.NLMSG_NOOP) {
        out.add(new Message(type, flags, seq, 0, Attributes.EMPTY, null, null));
      } else {
        if (body.remaining() < Netlink.GENL_HDRLEN) {
          throw new IllegalArgumentException("generic netlink message shorter than its header");
        }
        int cmd = Byte.toUnsignedInt(body.get(0));
        var attrs = Attributes.parse(body.slice(Netlink.GENL_HDRLEN, body.remaining() - Netlink.GENL_HDRLEN));
        out.add(new Message(type, flags, seq, cmd, attrs, null, null));
      }
      in.position(start + align(len));
      if (in.position() > in.limit()) {
        break;
      }
    }
    return out;
  }

  private static Message error(int type, int flags, int seq, ByteBuffer body) {
    if (body.remaining() < 4) {
      throw new IllegalArgumentException("NLMSG_ERROR without an error code");
    }
    int error = body.getInt(0);
    String ext = null;
    if ((flags & Netlink.NLM_F_ACK_TLVS) != 0 && body.remaining() >= 4 + Netlink.NLMSG_HDRLEN) {
      // After the errno comes the offending request: its header only (CAPPED) or all of it.
      int echoed = (flags & Netlink.NLM_F_CAPPED) != 0 ? Netlink.NLMSG_HDRLEN : body.getInt(4);
      int tlvStart = 4 + align(echoed);
      if (tlvStart <= body.remaining()) {
        var tlvs = Attributes.parse(body.slice(tlvStart, body.remaining() - tlvStart));
        ext = tlvs.string(Netlink.NLMSGERR_ATTR_MSG);
      }
    }
    return new Message(type, flags, seq, 0, Attributes.EMPTY, error, ext);
  }

  static int align(int n) {
    return (n + 3) & ~3;
  }

  /** The attributes of one message or nested attribute, by type (NLA_F_NESTED masked off). */
  static final class Attributes {
    static final Attributes EMPTY = new Attributes(Map.of(), List.of());
    private final Map<Integer, ByteBuffer> byType;
    private final List<Map.Entry<Integer, ByteBuffer>> inOrder;

    private Attributes(Map<Integer, ByteBuffer> byType, List<Map.Entry<Integer, ByteBuffer>> inOrder) {
      this.byType = byType;
      this.inOrder = inOrder;
    }

    static Attributes parse(ByteBuffer in) {
      in = in.duplicate().order(ByteOrder.nativeOrder());
      var map = new HashMap<Integer, ByteBuffer>();
      var list = new ArrayList<Map.Entry<Integer, ByteBuffer>>();
      int pos = in.position();
      while (in.limit() - pos >= Netlink.NLA_HDRLEN) {
        int len = Short.toUnsignedInt(in.getShort(pos));
        int type = Short.toUnsignedInt(in.getShort(pos + 2)) & Netlink.NLA_TYPE_MASK;
        if (len < Netlink.NLA_HDRLEN || pos + len > in.limit()) {
          throw new IllegalArgumentException("attribute " + type + " length " + len + " overruns its container");
        }
        var payload = in.slice(pos + Netlink.NLA_HDRLEN, len - Netlink.NLA_HDRLEN).order(ByteOrder.nativeOrder());
        map.put(type, payload);
        list.add(Map.entry(type, payload));
        pos += align(len);
      }
      return new Attributes(map, list);
    }

    boolean has(int type) {
      return byType.containsKey(type);
    }

    @Nullable Integer u32(int type) {
      var b = byType.get(type);
      return b == null || b.remaining() < 4 ? null : b.getInt(0);
    }

    @Nullable Integer u16(int type) {
      var b = byType.get(type);
      return b == null || b.remaining() < 2 ? null : Short.toUnsignedInt(b.getShort(0));
    }

    @Nullable Integer u8(int type) {
      var b = byType.get(type);
      return b == null || b.remaining() < 1 ? null : Byte.toUnsignedInt(b.get(0));
    }

    @Nullable String string(int type) {
      var b = byType.get(type);
      if (b == null) {
        return null;
      }
      byte[] bytes = new byte[b.remaining()];
      b.duplicate().get(bytes);
      int n = 0;
      while (n < bytes.length && bytes[n] != 0) {
        n++;
      }
      return new String(bytes, 0, n, StandardCharsets.UTF_8);
    }

    @Nullable Attributes nested(int type) {
      var b = byType.get(type);
      return b == null ? null : parse(b);
    }

    /** Every nested attribute inside {@code type}, in order (for lists such as DEVICE_LIST or MCAST_GROUPS). */
    List<Attributes> nestedList(int type) {
      var outer = byType.get(type);
      if (outer == null) {
        return List.of();
      }
      var items = new ArrayList<Attributes>();
      for (var e : parse(outer).inOrder) {
        items.add(parse(e.getValue()));
      }
      return items;
    }
  }
}
