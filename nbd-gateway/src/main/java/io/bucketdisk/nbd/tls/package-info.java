/**
 * The byte stream under NBD: {@link io.bucketdisk.nbd.tls.Transport}, plain over a socket channel
 * ({@link io.bucketdisk.nbd.tls.ChannelTransport}) or TLS after NBD_OPT_STARTTLS
 * ({@link io.bucketdisk.nbd.tls.TlsTransport}, the JDK SSLEngine over the same channel, so TCP and Unix sockets
 * behave alike). {@link io.bucketdisk.nbd.tls.TlsConfig} loads X.509 material.
 */
@NullMarked
package io.bucketdisk.nbd.tls;

import org.jspecify.annotations.NullMarked;
