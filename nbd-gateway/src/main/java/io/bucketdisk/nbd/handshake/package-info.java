/**
 * The fixed-newstyle handshake ("Option haggling"): {@link io.bucketdisk.nbd.handshake.Handshake} runs the
 * option loop, one method per option, and hands the server a {@link io.bucketdisk.nbd.handshake.Session}. The stream
 * (plain, then TLS) and the node a client certificate names are {@code ClientChannel}'s, the exports that client may
 * list and open {@code ClientExports}', and the metadata-context options with their selection {@code MetaContexts}'.
 *
 * <p>Unknown options get NBD_REP_ERR_UNSUP and the loop goes on; malformed option data gets ERR_INVALID; only a
 * broken frame (bad magic, absurd length) or a MUST-violation that leaves no way to answer ends the connection.
 * After STARTTLS every earlier negotiation is forgotten, as the spec requires.
 */
@NullMarked
package io.bucketdisk.nbd.handshake;

import org.jspecify.annotations.NullMarked;
