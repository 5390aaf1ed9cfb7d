package io.bucketdisk.node.nbd;

import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.node.os.NativeSocket;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Opens connections to the gateway and negotiates each for one export, leaving sockets ready for the kernel
 * (timeouts cleared). If the server lacks {@code CAN_MULTI_CONN}, only one connection is kept (the kernel
 * refuses more). Each connect and handshake is bounded by the timeout given. Thread-safe (stateless).
 */
public final class GatewayConnector {
  private final Endpoint address;
  private final Duration timeout;

  public GatewayConnector(Endpoint address, Duration timeout) {
    this.address = address;
    this.timeout = timeout;
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

  /** Opens up to {@code count} connections for {@code export}; on any failure closes what it opened and throws. */
  public Connections open(String export, int count) throws IOException {
    var sockets = new ArrayList<NativeSocket>();
    try {
      NegotiatedExport first = null;
      for (int i = 0; i < count; i++) {
        var s = NativeSocket.connect(address.socketAddress(), timeout);
        sockets.add(s);
        var info = NbdClientHandshake.negotiate(s, export);
        s.clearTimeouts();
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
}
