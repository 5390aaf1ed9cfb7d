/**
 * The kernel NBD driver's generic netlink interface ({@code include/uapi/linux/nbd-netlink.h}), spoken
 * through FFM: resolve the {@code nbd} family and its {@code nbd_mc_group} with {@code CTRL_CMD_GETFAMILY},
 * then {@code NBD_CMD_CONNECT}, {@code RECONFIGURE}, {@code DISCONNECT}, {@code STATUS}, and the
 * {@code LINK_DEAD} multicast.
 *
 * <p>Design note: encoding and decoding are pure ({@link io.bucketdisk.node.netlink.NetlinkWriter},
 * {@link io.bucketdisk.node.netlink.NetlinkReader}, {@link io.bucketdisk.node.netlink.NbdMessages}) and
 * unit-tested byte for byte against the layouts in the reference (netlink headers and attributes are
 * host-endian). {@link io.bucketdisk.node.netlink.NbdNetlink} is the only class that touches a socket. Kernel
 * facts relied on (reference §4.3–4.7): INDEX omitted in CONNECT means "any free device" and the reply
 * carries the chosen index; RECONFIGURE must repeat the backend identifier and only replaces dead sockets;
 * DISCONNECT returns 0 for an unconfigured device; CONNECT/RECONFIGURE/DISCONNECT need CAP_SYS_ADMIN.
 */
@NullMarked
package io.bucketdisk.node.netlink;

import org.jspecify.annotations.NullMarked;
