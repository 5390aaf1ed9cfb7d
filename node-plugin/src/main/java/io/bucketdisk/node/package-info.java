/**
 * The CSI Node plugin: {@link io.bucketdisk.node.NodeService} (stage, publish, expand, stats) and
 * {@link io.bucketdisk.node.IdentityService} on a gRPC Unix socket, started by {@link io.bucketdisk.node.NodePlugin}.
 *
 * <p>Design note. Staging a volume = N NBD connections to the gateway, handshaken here and handed to the kernel
 * with netlink {@code NBD_CMD_CONNECT} ({@link io.bucketdisk.node.NodeAttacher}), then mkfs-if-blank and mount
 * ({@link io.bucketdisk.node.Mounter}) for mount volumes. After CONNECT the kernel owns the sockets, so the
 * plugin can die and restart without disturbing I/O: what is staged and published is persisted as JSON
 * ({@link io.bucketdisk.node.StagingState}) before and after every change, and a restarted plugin reloads it,
 * checks each device against netlink STATUS and {@code /sys/block/nbdN/backend}, and can unstage as before.
 * {@link io.bucketdisk.node.ReattachWatcher} listens for {@code LINK_DEAD} and hands fresh sockets to the
 * kernel with {@code NBD_CMD_RECONFIGURE} (same backend identifier) within the dead-connection timeout, so a
 * gateway restart stalls I/O instead of failing it. One RPC per volume at a time (others get ABORTED).
 */
@NullMarked
package io.bucketdisk.node;

import org.jspecify.annotations.NullMarked;
