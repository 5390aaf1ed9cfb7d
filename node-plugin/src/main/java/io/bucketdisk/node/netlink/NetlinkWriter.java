package io.bucketdisk.node.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * Builds one generic netlink request: {@code nlmsghdr} (16 bytes), {@code genlmsghdr} (4 bytes), then
 * attributes ({@code nlattr}: u16 length including the 4-byte header, u16 type, payload padded to 4). All
 * fields are host-endian. Single use, not thread-safe.
 */
final class NetlinkWriter {
  private final ByteBuffer buf = ByteBuffer.allocate(4096).order(ByteOrder.nativeOrder());
  private final ArrayDeque<Integer> nests = new ArrayDeque<>();

  NetlinkWriter(int type, int flags, int seq, int cmd, int version) {
    buf.putInt(0).putShort((short) type).putShort((short) flags).putInt(seq).putInt(0);
    buf.put((byte) cmd).put((byte) version).putShort((short) 0);
  }

  private NetlinkWriter attr(int type, byte[] payload) {
    buf.putShort((short) (Netlink.NLA_HDRLEN + payload.length)).putShort((short) type).put(payload);
    pad();
    return this;
  }

  private void pad() {
    while ((buf.position() & 3) != 0) {
      buf.put((byte) 0);
    }
  }

  NetlinkWriter u8(int type, int value) {
    return attr(type, new byte[] {(byte) value});
  }

  NetlinkWriter u16(int type, int value) {
    return attr(type, ByteBuffer.allocate(2).order(ByteOrder.nativeOrder()).putShort((short) value).array());
  }

  NetlinkWriter u32(int type, int value) {
    return attr(type, ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(value).array());
  }

  NetlinkWriter u64(int type, long value) {
    return attr(type, ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(value).array());
  }

  /** A NUL-terminated string attribute (NLA_STRING / NLA_NUL_STRING). */
  NetlinkWriter string(int type, String value) {
    byte[] s = value.getBytes(StandardCharsets.UTF_8);
    return attr(type, Arrays.copyOf(s, s.length + 1));
  }

  NetlinkWriter beginNested(int type) {
    nests.push(buf.position());
    buf.putShort((short) 0).putShort((short) (type | Netlink.NLA_F_NESTED));
    return this;
  }

  NetlinkWriter endNested() {
    int start = nests.pop();
    buf.putShort(start, (short) (buf.position() - start));
    return this;
  }

  byte[] finish() {
    if (!nests.isEmpty()) {
      throw new IllegalStateException("unclosed nested attribute");
    }
    buf.putInt(0, buf.position());
    return Arrays.copyOf(buf.array(), buf.position());
  }
}
