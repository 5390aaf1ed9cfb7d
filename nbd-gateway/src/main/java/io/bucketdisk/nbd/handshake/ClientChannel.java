package io.bucketdisk.nbd.handshake;

import static io.bucketdisk.nbd.wire.NbdConstants.*;

import io.bucketdisk.nbd.tls.ChannelTransport;
import io.bucketdisk.nbd.tls.TlsTransport;
import io.bucketdisk.nbd.tls.Transport;
import io.bucketdisk.nbd.wire.NbdConstants;
import io.bucketdisk.nbd.wire.OptionCodec;
import io.bucketdisk.nbd.wire.ProtocolException;
import java.io.IOException;
import java.nio.ByteBuffer;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The handshake's stream to the client, and who the client is: plain until NBD_OPT_STARTTLS, TLS after it on the
 * same socket. With client certificates required, STARTTLS demands one the context trusts, and the name in it
 * ({@link io.bucketdisk.common.tls.PeerIdentity}) is the node this connection speaks for. Option replies
 * (NBD spec "Option reply") leave through {@link #reply}.
 *
 * <p>Not thread safe: one per connection, used by the thread running the handshake. The caller keeps the buffers
 * it passes. Throws {@link IOException} when the stream fails, including a failed TLS handshake, and
 * {@link ProtocolException} when a client certificate names no node; either way the connection must be dropped.
 */
final class ClientChannel {
  private static final Logger log = LoggerFactory.getLogger(ClientChannel.class);

  private final ChannelTransport plain;
  private final @Nullable SSLContext tls;
  private final boolean clientCertificates;
  private Transport transport;
  /** The node named by the client's verified certificate, once TLS is up with client certificates. */
  private @Nullable String peer;

  /**
   * @param tls the server's TLS context, or null when STARTTLS is not offered
   * @param clientCertificates STARTTLS requires a trusted client certificate naming a node
   */
  ClientChannel(ChannelTransport plain, @Nullable SSLContext tls, boolean clientCertificates) {
    this.plain = plain;
    this.transport = plain;
    this.tls = tls;
    this.clientCertificates = clientCertificates;
  }

  /** The stream now: the plain one, or TLS over it after STARTTLS. */
  Transport transport() {
    return transport;
  }

  boolean isTls() {
    return transport.isTls();
  }

  /** The node the client's verified certificate names; null without TLS or without client certificates. */
  @Nullable String node() {
    return peer;
  }

  void readFully(ByteBuffer dst) throws IOException {
    transport.readFully(dst);
  }

  void skip(long length, ByteBuffer scratch) throws IOException {
    transport.skip(length, scratch);
  }

  void write(ByteBuffer src) throws IOException {
    transport.write(src);
  }

  /**
   * NBD_OPT_STARTTLS: ACK, then the TLS handshake on the same socket; true when TLS is now on, false when the
   * option was refused with an error reply.
   */
  boolean startTls(ByteBuffer data) throws IOException {
    if (data.hasRemaining()) {
      reply(OPT_STARTTLS, REP_ERR_INVALID, "STARTTLS takes no data");
      return false;
    }
    if (tls == null) {
      reply(OPT_STARTTLS, REP_ERR_POLICY, "TLS is not configured on this server");
      return false;
    }
    if (transport.isTls()) {
      reply(OPT_STARTTLS, REP_ERR_INVALID, "TLS is already on");
      return false;
    }
    reply(OPT_STARTTLS, REP_ACK);
    // A failed TLS handshake throws: the only way out is a hard disconnect.
    TlsTransport t = TlsTransport.accept(plain, tls, clientCertificates);
    transport = t;
    if (clientCertificates) {
      peer = t.peerIdentity().orElseThrow(() -> new ProtocolException("client certificate from " + address()
          + " names no node (no CN in its subject)"));
      log.debug("TLS established with node {} ({})", peer, address());
    }
    return true;
  }

  /** The client's address, for the log; "?" when unknown. */
  String address() {
    try {
      var a = plain.channel().getRemoteAddress();
      return a == null ? "?" : a.toString();
    } catch (IOException e) {
      return "?";
    }
  }

  void reply(int option, int type) throws IOException {
    reply(option, type, ByteBuffer.allocate(0));
  }

  void reply(int option, int type, String message) throws IOException {
    reply(option, type, ByteBuffer.wrap(OptionCodec.message(message)));
  }

  void reply(int option, int type, ByteBuffer payload) throws IOException {
    var header = ByteBuffer.allocate(NbdConstants.OPTION_REPLY_HEADER_SIZE);
    OptionCodec.replyHeader(header, option, type, payload.remaining());
    transport.write(header.flip(), payload);
  }
}
