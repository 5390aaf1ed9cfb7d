package io.bucketdisk.node.netlink;

/** Netlink and generic-netlink constants (uapi {@code netlink.h}, {@code genetlink.h}, {@code nbd-netlink.h}). */
final class Netlink {
  private Netlink() {}

  // netlink.h: message types and flags
  static final int NLMSG_NOOP = 1, NLMSG_ERROR = 2, NLMSG_DONE = 3;
  static final int NLM_F_REQUEST = 0x1, NLM_F_MULTI = 0x2, NLM_F_ACK = 0x4;
  static final int NLM_F_CAPPED = 0x100, NLM_F_ACK_TLVS = 0x200;
  static final int NLMSGERR_ATTR_MSG = 1;
  static final int NLMSG_HDRLEN = 16, GENL_HDRLEN = 4, NLA_HDRLEN = 4;
  static final int NLA_F_NESTED = 0x8000, NLA_TYPE_MASK = 0x3fff;

  // genetlink.h: the controller family
  static final int GENL_ID_CTRL = 0x10;
  static final int CTRL_CMD_NEWFAMILY = 1, CTRL_CMD_GETFAMILY = 3;
  static final int CTRL_ATTR_FAMILY_ID = 1, CTRL_ATTR_FAMILY_NAME = 2, CTRL_ATTR_VERSION = 3, CTRL_ATTR_MCAST_GROUPS = 7;
  static final int CTRL_ATTR_MCAST_GRP_NAME = 1, CTRL_ATTR_MCAST_GRP_ID = 2;

  // nbd-netlink.h
  static final String NBD_FAMILY = "nbd", NBD_MCAST_GROUP = "nbd_mc_group";
  static final int NBD_GENL_VERSION = 1;
  static final int NBD_CMD_CONNECT = 1, NBD_CMD_DISCONNECT = 2, NBD_CMD_RECONFIGURE = 3, NBD_CMD_LINK_DEAD = 4,
      NBD_CMD_STATUS = 5;
  static final int NBD_ATTR_INDEX = 1, NBD_ATTR_SIZE_BYTES = 2, NBD_ATTR_BLOCK_SIZE_BYTES = 3, NBD_ATTR_TIMEOUT = 4,
      NBD_ATTR_SERVER_FLAGS = 5, NBD_ATTR_CLIENT_FLAGS = 6, NBD_ATTR_SOCKETS = 7, NBD_ATTR_DEAD_CONN_TIMEOUT = 8,
      NBD_ATTR_DEVICE_LIST = 9, NBD_ATTR_BACKEND_IDENTIFIER = 10;
  static final int NBD_SOCK_ITEM = 1, NBD_SOCK_FD = 1;
  static final int NBD_DEVICE_ITEM = 1, NBD_DEVICE_INDEX = 1, NBD_DEVICE_CONNECTED = 2;
}
