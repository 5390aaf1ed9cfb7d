package io.bucketdisk.node.nbd;

import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.common.tls.TlsFiles;
import io.bucketdisk.node.os.NativeSocket;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLSocket;
import org.jspecify.annotations.Nullable;

/**
 * Opens connections to the gateway and negotiates each for one export, leaving sockets ready for the kernel
 * (timeouts cleared). If the server lacks {@code CAN_MULTI_CONN}, only one connection is kept (the kernel
 * refuses more). Each connect and handshake is bounded by the timeout given. Thread-safe (stateless).
 *
 * <p><b>TLS.</b> With {@link TlsFiles} and a TCP gateway (another node's), every connection is mutual TLS: the
 * greeting, NBD_OPT_STARTTLS, the TLS handshake (this node's certificate; the gateway's must chain to the CA), then GO
 * over TLS; the kernel gets the plain end of a {@link TlsRelay}. A Unix socket (this node's own gateway) is plain.
 */
public final class GatewayConnector {
  private final Endpoint address;
  private final Duration timeout;
  private final @Nullable TlsFiles tls;

  public GatewayConnector(Endpoint address, Duration timeout) {
    this(address, timeout, null);
  }

  /** As above; TCP connections are mutual TLS with {@code tls} when given. */
  public GatewayConnector(Endpoint address, Duration timeout, @Nullable TlsFiles tls) {
    this.address = address;
    this.timeout = timeout;
    this.tls = tls;
  }

  public Endpoint address() {
    return address;
  }

  /** Connected, negotiated sockets plus what the first handshake returned. The caller owns the sockets. */
  public record Connections(NegotiatedExport export, List<NativeSocket> sockets) implements AutoCloseable {
    public List<Integer> fds() {
      return sockets.stream().map(NativeSocket::fd).toList();
    }

    @Override
    public void close() {
      sockets.forEach(NativeSocket::close);
    }
  }

  private record Negotiated(NativeSocket socket, NegotiatedExport export) {}

  /** Opens up to {@code count} connections for {@code export}; on any failure closes what it opened and throws. */
  public Connections open(String export, int count) throws IOException {
    var sockets = new ArrayList<NativeSocket>();
    try {
      NegotiatedExport first = null;
      for (int i = 0; i < count; i++) {
        var n = address instanceof Endpoint.Tcp tcp && tls != null ? negotiateTls(tcp, tls, export, i)
            : negotiatePlain(export);
        sockets.add(n.socket());
        var info = n.export();
        if (first == null) {
          first = info;
          if (!info.canMultiConn()) {
            break;
          }
        } else if (info.sizeBytes() != first.sizeBytes() || info.transmissionFlags() != first.transmissionFlags()) {
          throw new IOException("export '" + export + "' changed between connections (size or flags differ)");
        }
      }
      return new Connections(first, List.copyOf(sockets));
    } catch (IOException | RuntimeException e) {
      sockets.forEach(NativeSocket::close);
      throw e;
    }
  }

  private Negotiated negotiatePlain(String export) throws IOException {
    var s = NativeSocket.connect(address.socketAddress(), timeout);
    try {
      var info = NbdClientHandshake.negotiate(s, export);
      s.clearTimeouts();
      return new Negotiated(s, info);
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e;
    }
  }

  private Negotiated negotiateTls(Endpoint.Tcp tcp, TlsFiles tls, String export, int index) throws IOException {
    InetSocketAddress target = tcp.socketAddress();
    var socket = new Socket();
    SSLSocket ssl = null;
    try {
      socket.connect(target, (int) timeout.toMillis());
      socket.setSoTimeout((int) timeout.toMillis());
      socket.setTcpNoDelay(true);
      socket.setKeepAlive(true);
      var plain = new StreamChannel(socket.getInputStream(), socket.getOutputStream());
      boolean noZeroes = NbdClientHandshake.greet(plain);
      NbdClientHandshake.startTls(plain);
      ssl = (SSLSocket) tls.context().getSocketFactory().createSocket(socket, tcp.host(), tcp.port(), true);
      ssl.setUseClientMode(true);
      ssl.startHandshake();
      var info = NbdClientHandshake.go(new StreamChannel(ssl.getInputStream(), ssl.getOutputStream()), export,
          noZeroes);
      ssl.setSoTimeout(0);
      return new Negotiated(TlsRelay.start(ssl, export + "#" + index + " " + tcp, timeout), info);
    } catch (javax.net.ssl.SSLException e) {
      (ssl != null ? ssl : socket).close();
      throw new IOException("TLS with gateway " + tcp + " failed: " + e.getMessage()
          + " (check --tls-cert, --tls-key and --tls-ca against the gateway's CA)", e);
    } catch (IOException | RuntimeException e) {
      (ssl != null ? ssl : socket).close();
      throw e;
    }
  }

  /** Blocking streams as a channel, for the handshake code. */
  private record StreamChannel(InputStream in, OutputStream out) implements ByteChannel {
    @Override
    public int read(ByteBuffer dst) throws IOException {
      int n = in.read(dst.array(), dst.arrayOffset() + dst.position(), dst.remaining());
      if (n > 0) {
        dst.position(dst.position() + n);
      }
      return n;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      int n = src.remaining();
      out.write(src.array(), src.arrayOffset() + src.position(), n);
      out.flush();
      src.position(src.limit());
      return n;
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void close() {}
  }
}
