/**
 * The NBD server: {@link io.bucketdisk.nbd.server.NbdListener} accepts TCP and Unix-socket connections, each
 * served by an {@code NbdConnection} on a virtual thread: handshake, then two reader threads taking turns
 * (leader/follower, {@code ReaderCrew}); the one reading validates each request ({@code RequestReader},
 * {@code RequestValidator}), takes its in-flight permits ({@code InFlightRequests}) and reads its payload into a
 * pooled direct buffer ({@code PayloadBuffers}); the reader serves a lone request itself once the other reader took
 * over reading, and dispatches the rest on virtual threads; {@code Dispatcher} calls the export, and replies
 * (BLOCK_STATUS gathered by {@code BlockStatus}) leave through the connection's single {@code ReplyWriter}, in
 * completion order, matched by cookie. {@code NbdErrors} is the one place where failures become NBD errors.
 *
 * <p>Lock order: a connection has one lock, the reply lock; under TLS the transport's write lock nests inside it.
 */
@NullMarked
package io.bucketdisk.nbd.server;

import org.jspecify.annotations.NullMarked;
