/**
 * Mutual TLS for every TCP hop (NBD between nodes, the gateway control API): X.509 material read from the files a
 * mounted Secret holds (cert-manager's {@code tls.crt}, {@code tls.key}, {@code ca.crt}), re-read when they change so
 * a rotated certificate is used for the next connection without a restart ({@link io.bucketdisk.common.tls.TlsFiles}),
 * and the rule that names the peer of a connection from its certificate ({@link io.bucketdisk.common.tls.PeerIdentity}).
 */
@NullMarked
package io.bucketdisk.common.tls;

import org.jspecify.annotations.NullMarked;
