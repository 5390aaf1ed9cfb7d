/**
 * The client side of the NBD handshake (fixed newstyle, {@code NBD_OPT_GO}), done by the node plugin on every
 * socket before the socket is handed to the kernel, which never negotiates itself (reference §1, §4.1).
 *
 * <p>Design note: {@link io.bucketdisk.node.nbd.NbdClientHandshake} works on any blocking
 * {@link java.nio.channels.ByteChannel}, so the same code runs on FFM sockets in production and is tested
 * against a scripted server in unit tests. {@link io.bucketdisk.node.nbd.GatewayConnector} opens N sockets to
 * the gateway (TCP or Unix) and returns their fds with the negotiated size and transmission flags.
 */
@NullMarked
package io.bucketdisk.node.nbd;

import org.jspecify.annotations.NullMarked;
