package io.bucketdisk.node.netlink;

/** One {@code NBD_DEVICE_ITEM} of an {@code NBD_CMD_STATUS} reply: device {@code /dev/nbd<index>} and whether it has a configuration. */
public record DeviceStatus(int index, boolean connected) {}
