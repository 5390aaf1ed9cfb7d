/**
 * Who may open which export. A connection authenticated by a client certificate carries the name of its node
 * ({@link io.bucketdisk.common.tls.PeerIdentity}); {@link io.bucketdisk.nbd.access.ExportAccess} decides, per export
 * name, whether that node may see and open it; {@link io.bucketdisk.nbd.access.PublicationAccess} is the gateway's
 * rule: only volumes the manifest records as published to that node. Connections without a certificate (the node's
 * own Unix socket, a loopback listener, or a server started with {@code --insecure}) are not asked about.
 */
@NullMarked
package io.bucketdisk.nbd.access;

import org.jspecify.annotations.NullMarked;
