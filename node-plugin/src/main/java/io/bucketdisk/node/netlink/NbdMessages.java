package io.bucketdisk.node.netlink;

import io.bucketdisk.node.netlink.NetlinkReader.Message;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * Encodes the requests the node plugin sends to the {@code nbd} generic netlink family and to the controller
 * ({@code nlctrl}), and decodes the replies it cares about. Pure: byte arrays in and out.
 */
final class NbdMessages {
  private NbdMessages() {}

  static final int REQUEST_ACK = Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK;

  /** {@code CTRL_CMD_GETFAMILY} for {@code name} (reference §4.4). */
  static byte[] getFamily(int seq, String name) {
    return new NetlinkWriter(Netlink.GENL_ID_CTRL, REQUEST_ACK, seq, Netlink.CTRL_CMD_GETFAMILY, 1)
        .string(Netlink.CTRL_ATTR_FAMILY_NAME, name)
        .finish();
  }

  /** The family id and the id of the named multicast group from a {@code CTRL_CMD_NEWFAMILY} reply. */
  record Family(int id, int version, OptionalInt multicastGroup) {}

  static Family family(Message reply, String groupName) {
    var a = reply.attributes();
    Integer id = a.u16(Netlink.CTRL_ATTR_FAMILY_ID);
    if (reply.cmd() != Netlink.CTRL_CMD_NEWFAMILY || id == null) {
      throw new IllegalArgumentException("not a CTRL_CMD_NEWFAMILY reply with a family id");
    }
    Integer version = a.u32(Netlink.CTRL_ATTR_VERSION);
    OptionalInt group = OptionalInt.empty();
    for (var g : a.nestedList(Netlink.CTRL_ATTR_MCAST_GROUPS)) {
      Integer gid = g.u32(Netlink.CTRL_ATTR_MCAST_GRP_ID);
      if (groupName.equals(g.string(Netlink.CTRL_ATTR_MCAST_GRP_NAME)) && gid != null) {
        group = OptionalInt.of(gid);
      }
    }
    return new Family(id, version == null ? 0 : version, group);
  }

  /** {@code NBD_CMD_CONNECT} without INDEX, so the kernel picks a free device (reference §4.5). */
  static byte[] connect(int family, int seq, DeviceConfig c) {
    var w = new NetlinkWriter(family, REQUEST_ACK, seq, Netlink.NBD_CMD_CONNECT, Netlink.NBD_GENL_VERSION)
        .u64(Netlink.NBD_ATTR_SIZE_BYTES, c.sizeBytes())
        .u64(Netlink.NBD_ATTR_BLOCK_SIZE_BYTES, c.blockSizeBytes())
        .u64(Netlink.NBD_ATTR_SERVER_FLAGS, Integer.toUnsignedLong(c.serverFlags()))
        .u64(Netlink.NBD_ATTR_TIMEOUT, c.timeoutSeconds())
        .u64(Netlink.NBD_ATTR_DEAD_CONN_TIMEOUT, c.deadConnTimeoutSeconds())
        .string(Netlink.NBD_ATTR_BACKEND_IDENTIFIER, c.backendIdentifier());
    sockets(w, c.socketFds());
    return w.finish();
  }

  /**
   * {@code NBD_CMD_RECONFIGURE} of device {@code index}: the backend identifier (required by the kernel when
   * the device has one), then optionally a new size and new sockets (each replaces one dead socket).
   */
  static byte[] reconfigure(int family, int seq, int index, String backendIdentifier, OptionalLong size,
      List<Integer> fds) {
    var w = new NetlinkWriter(family, REQUEST_ACK, seq, Netlink.NBD_CMD_RECONFIGURE, Netlink.NBD_GENL_VERSION)
        .u32(Netlink.NBD_ATTR_INDEX, index)
        .string(Netlink.NBD_ATTR_BACKEND_IDENTIFIER, backendIdentifier);
    size.ifPresent(bytes -> w.u64(Netlink.NBD_ATTR_SIZE_BYTES, bytes));
    if (!fds.isEmpty()) {
      sockets(w, fds);
    }
    return w.finish();
  }

  private static void sockets(NetlinkWriter w, List<Integer> fds) {
    w.beginNested(Netlink.NBD_ATTR_SOCKETS);
    for (int fd : fds) {
      w.beginNested(Netlink.NBD_SOCK_ITEM).u32(Netlink.NBD_SOCK_FD, fd).endNested();
    }
    w.endNested();
  }

  static byte[] disconnect(int family, int seq, int index) {
    return new NetlinkWriter(family, REQUEST_ACK, seq, Netlink.NBD_CMD_DISCONNECT, Netlink.NBD_GENL_VERSION)
        .u32(Netlink.NBD_ATTR_INDEX, index)
        .finish();
  }

  /** {@code NBD_CMD_STATUS} of one device, or of all devices when {@code index} is empty. */
  static byte[] status(int family, int seq, OptionalInt index) {
    var w = new NetlinkWriter(family, REQUEST_ACK, seq, Netlink.NBD_CMD_STATUS, Netlink.NBD_GENL_VERSION);
    index.ifPresent(i -> w.u32(Netlink.NBD_ATTR_INDEX, i));
    return w.finish();
  }

  /** The device index a CONNECT reply carries. */
  static int connectedIndex(Message reply) {
    Integer index = reply.attributes().u32(Netlink.NBD_ATTR_INDEX);
    if (reply.cmd() != Netlink.NBD_CMD_CONNECT || index == null) {
      throw new IllegalArgumentException("CONNECT reply without NBD_ATTR_INDEX");
    }
    return index;
  }

  static List<DeviceStatus> devices(Message reply) {
    var out = new ArrayList<DeviceStatus>();
    var list = reply.attributes().nested(Netlink.NBD_ATTR_DEVICE_LIST);
    if (list == null) {
      return out;
    }
    for (var item : reply.attributes().nestedList(Netlink.NBD_ATTR_DEVICE_LIST)) {
      Integer index = item.u32(Netlink.NBD_DEVICE_INDEX);
      Integer connected = item.u8(Netlink.NBD_DEVICE_CONNECTED);
      if (index != null) {
        out.add(new DeviceStatus(index, connected != null && connected != 0));
      }
    }
    return out;
  }

  /** The device index of a {@code LINK_DEAD} multicast, if the message is one. */
  static OptionalInt linkDead(Message m) {
    Integer index = m.attributes().u32(Netlink.NBD_ATTR_INDEX);
    return m.cmd() == Netlink.NBD_CMD_LINK_DEAD && index != null ? OptionalInt.of(index) : OptionalInt.empty();
  }
}
