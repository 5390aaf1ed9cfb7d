/**
 * The NBD wire format: constants with their spec sections ({@link io.bucketdisk.nbd.wire.NbdConstants}),
 * request decoding ({@link io.bucketdisk.nbd.wire.RequestDecoder}), reply encoding
 * ({@link io.bucketdisk.nbd.wire.ReplyEncoder}) and the handshake's option layouts
 * ({@link io.bucketdisk.nbd.wire.OptionCodec}).
 *
 * <p>Everything here is pure: functions over caller-owned {@link java.nio.ByteBuffer}s, no sockets, no
 * threads, no exports, so each piece can be fuzzed and tested byte for byte against the spec layouts. Lengths
 * announced by the peer are checked against the bytes actually present before anything is allocated from them.
 */
@NullMarked
package io.bucketdisk.nbd.wire;

import org.jspecify.annotations.NullMarked;
