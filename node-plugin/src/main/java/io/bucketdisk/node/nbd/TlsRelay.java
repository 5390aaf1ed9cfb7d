package io.bucketdisk.node.nbd;

import io.bucketdisk.node.os.NativeSocket;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands a TLS connection to the kernel's NBD client, which only speaks plain sockets: a local Unix socket pair whose
 * one end goes to the kernel ({@code NBD_CMD_CONNECT}), while two threads here copy bytes between the other end and
 * the TLS connection to the gateway (as {@code nbd-client} does with its userspace TLS proxy).
 *
 * <p><b>Why not kTLS.</b> Handing the kernel the TCP socket itself with {@code setsockopt(SOL_TLS, TLS_TX/TLS_RX)} keys
 * would save the copy and survive a restart of this process, but the JDK's TLS implementation does not expose the
 * traffic secrets that needs (it would take our own TLS 1.3 handshake, or the kernel's {@code tlshd} upcall, which
 * the kernels we support lack), and TLS 1.3 post-handshake messages (key updates, tickets) reach an in-kernel reader
 * as records it cannot handle.
 *
 * <p><b>Lifetime.</b> A relay lives until either side closes: the kernel disconnecting (or giving up on the socket
 * after its I/O timeout) ends it, and so does the gateway going away, which the kernel sees as a dead connection and
 * reports through LINK_DEAD, so the {@code ReattachWatcher} reconnects through a new relay. A relay dies with this
 * process: a restarted node plugin's reattach takes over, and I/O waits (up to the dead-connection timeout) in between.
 * The socket pair is made by binding a Unix socket in a fresh 0700 directory, connecting to it and removing it again.
 */
final class TlsRelay {
  private static final Logger log = LoggerFactory.getLogger(TlsRelay.class);
  private static final int BUFFER = 256 * 1024;

  private TlsRelay() {}

  /** Starts relaying {@code tls} (handshake done, transmission next) and returns the socket for the kernel. */
  static NativeSocket start(SSLSocket tls, String what, Duration timeout) throws IOException {
    Path dir = Files.createTempDirectory("bucketdisk-tls");
    Path path = dir.resolve("s");
    NativeSocket kernelEnd = null;
    SocketChannel relayEnd;
    try (var server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(path), 1);
      kernelEnd = NativeSocket.connect(UnixDomainSocketAddress.of(path), timeout);
      relayEnd = server.accept();
    } catch (IOException | RuntimeException e) {
      if (kernelEnd != null) {
        kernelEnd.close();
      }
      throw e;
    } finally {
      Files.deleteIfExists(path);
      Files.deleteIfExists(dir);
    }
    InputStream in = tls.getInputStream();
    OutputStream out = tls.getOutputStream();
    Runnable stop = () -> {
      closeQuietly(relayEnd);
      closeQuietly(tls);
    };
    Thread.ofPlatform().daemon().name("nbd-tls-up " + what).start(() -> {
      var buf = ByteBuffer.allocate(BUFFER);
      try {
        while (relayEnd.read(buf.clear()) >= 0) {
          out.write(buf.array(), 0, buf.position());
          out.flush();
        }
        log.debug("TLS relay {}: the kernel closed its end", what);
      } catch (IOException e) {
        log.debug("TLS relay {} (to the gateway) ended: {}", what, e.toString());
      } finally {
        stop.run();
      }
    });
    Thread.ofPlatform().daemon().name("nbd-tls-down " + what).start(() -> {
      byte[] buf = new byte[BUFFER];
      try {
        int n;
        while ((n = in.read(buf)) >= 0) {
          var b = ByteBuffer.wrap(buf, 0, n);
          while (b.hasRemaining()) {
            relayEnd.write(b);
          }
        }
        log.info("TLS relay {}: the gateway closed the connection", what);
      } catch (IOException e) {
        log.debug("TLS relay {} (from the gateway) ended: {}", what, e.toString());
      } finally {
        stop.run();
      }
    });
    return kernelEnd;
  }

  private static void closeQuietly(java.io.Closeable c) {
    try {
      c.close();
    } catch (IOException e) {
      // already closing
    }
  }
}
