package io.bucketdisk.nbd.server;

import io.bucketdisk.nbd.export.CheckedExport;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ExportProvider;
import io.bucketdisk.nbd.handshake.Handshake;
import io.bucketdisk.nbd.handshake.Session;
import io.bucketdisk.nbd.tls.ChannelTransport;
import io.bucketdisk.nbd.tls.Transport;
import io.bucketdisk.nbd.wire.ProtocolException;
import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection: the handshake, then the transmission phase (NBD spec "Transmission phase").
 *
 * <p><b>Flow.</b> The connection's virtual thread runs the {@link Handshake}, then hands transmission to a
 * {@link ReaderCrew}: reader threads taking turns, the one holding the reading role reading with a
 * {@link RequestReader} (validation, in-flight bounds from {@link InFlightRequests}, WRITE payloads into pooled
 * direct buffers). The reader serves a lone request itself, after passing the reading role on (no thread wake-up
 * between request and reply), or hands it to a new virtual thread and keeps reading (the client is pipelining, or
 * the other reader is busy). Either way a {@link Dispatcher} calls the export and the reply goes out through
 * {@link ReplyWriter}, in completion order, matched by cookie, and a slow request never holds up the ones read
 * after it.
 *
 * <p><b>Shutdown (lame duck).</b> Once the server stops, new requests on structured-reply connections get
 * ESHUTDOWN, in-flight ones finish, and {@link #close} (after the server's grace period) waits for them before
 * closing the socket. On simple-reply connections (the kernel's) the first new request is left unanswered and
 * the connection closes once in-flight requests are answered, so the client resends it after reconnecting
 * instead of failing it. DISC waits for in-flight requests, then closes. Locks: only the reply lock in
 * {@link ReplyWriter}.
 */
final class NbdConnection implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(NbdConnection.class);
  private static final AtomicLong IDS = new AtomicLong();
  /** Runtime exceptions caught anywhere in connection handling: each one is a server bug. */
  private static final AtomicLong BUGS = new AtomicLong();

  private final SocketChannel channel;
  private final ExportProvider provider;
  private final ServerOptions options;
  private final PayloadBuffers pool;
  private final NbdListener listener;
  private final long id = IDS.incrementAndGet();
  private final InFlightRequests inFlight;
  private volatile @Nullable Transport transport;
  private volatile String exportName = "";
  private volatile boolean closing;

  NbdConnection(
      SocketChannel channel, ExportProvider provider, ServerOptions options, PayloadBuffers pool, NbdListener listener) {
    this.channel = channel;
    this.provider = provider;
    this.options = options;
    this.pool = pool;
    this.listener = listener;
    this.inFlight = new InFlightRequests(id, options);
  }

  /** Counts a runtime exception caught while serving: a server bug. */
  static void countBug() {
    BUGS.incrementAndGet();
  }

  /** Runtime exceptions caught while serving, process-wide. */
  static long bugs() {
    return BUGS.get();
  }

  @Override
  public void run() {
    String peer = peer();
    Export export = null;
    try {
      var plain = new ChannelTransport(channel);
      transport = plain;
      Optional<Session> session;
      var handshaking = new AtomicBoolean(true);
      Thread timer = Thread.ofVirtual().name("nbd-handshake-timer-" + id).start(() -> cutOff(handshaking, peer));
      try {
        // Mutual TLS is for TCP; a Unix socket is the node's own (its directory is the boundary).
        boolean tcp = !(channel.getLocalAddress() instanceof java.net.UnixDomainSocketAddress);
        boolean mutual = options.clientCertificates() && tcp;
        session = new Handshake(plain, provider, options.tls(), options.tlsRequired() || mutual, mutual,
            options.access(), listener::stopping).run();
      } finally {
        timer.interrupt();
      }
      if (!handshaking.compareAndSet(true, false)) {
        if (session.isPresent()) {
          session.get().export().close(); // finished just as the timer fired: the connection is closed already
        }
        return;
      }
      if (session.isEmpty()) {
        log.debug("connection {} from {} ended in the handshake", id, peer);
        return;
      }
      Session s = session.get();
      transport = s.transport();
      export = s.export();
      exportName = s.info().name();
      log.info(
          "connection {} from {}: export {} ({} bytes, flags 0x{}, {}{}{}{})",
          id,
          peer,
          exportName,
          s.info().size(),
          Integer.toHexString(s.info().transmissionFlags()),
          s.extended() ? "extended headers" : s.structured() ? "structured replies" : "simple replies",
          s.transport().isTls() ? ", TLS" : "",
          s.metaContexts().isEmpty() ? "" : ", contexts ",
          s.metaContexts().isEmpty() ? "" : String.join(",", s.metaContexts()));
      if (closing) {
        return;
      }
      transmission(s);
    } catch (EOFException | ClosedChannelException e) {
      log.debug("connection {} from {} closed by peer", id, peer);
    } catch (ProtocolException e) {
      log.warn("connection {} from {} dropped: {}", id, peer, e.getMessage());
    } catch (IOException e) {
      if (closing) {
        log.debug("connection {} closed during shutdown", id);
      } else {
        log.info("connection {} from {} ended: {}", id, peer, e.toString());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      countBug();
      log.error("connection {} from {}: bug in the server", id, peer, e);
    } finally {
      inFlight.awaitIdle(options.shutdownGrace().toMillis() * 2);
      closeTransport();
      if (export != null) {
        try {
          export.close();
        } catch (IOException e) {
          log.warn("closing export {} for connection {}: {}", exportName, id, e.toString());
        }
      }
      listener.ended(this);
      log.debug("connection {} closed", id);
    }
  }

  /**
   * Closes the connection when the handshake is still running after {@link ServerOptions#handshakeTimeout}, so a
   * client that stalls there cannot hold it; runs on its own virtual thread, which the handshake interrupts when it
   * ends. Whoever clears {@code handshaking} first wins: the connection either goes on or is cut off, never both.
   */
  private void cutOff(AtomicBoolean handshaking, String peer) {
    try {
      Thread.sleep(options.handshakeTimeout());
    } catch (InterruptedException e) {
      return;
    }
    if (handshaking.compareAndSet(true, false)) {
      log.info("connection {} from {}: handshake not finished within {}, closing", id, peer,
          options.handshakeTimeout());
      closeTransport();
    }
  }

  /**
   * Serves the transmission phase with a {@link ReaderCrew} and waits until its reading ends; rethrows what ended
   * it.
   */
  private void transmission(Session s) throws IOException, InterruptedException {
    Export export = new CheckedExport(s.export());
    var writer = new ReplyWriter(s.transport(), s.structured(), s.extended());
    var held = new HeldReplies(writer, pool, inFlight);
    var requests = new RequestReader(id, s, export, writer, inFlight, pool, held, listener::stopping);
    var dispatcher = new Dispatcher(export, writer, s.metaContexts(), pool, exportName);
    var crew = new ReaderCrew(this, requests, dispatcher, held, options.platformReaders());
    crew.start();
    try {
      crew.awaitEnd();
    } catch (InterruptedException e) {
      closeTransport();
      crew.awaitEnd(options.shutdownGrace().toMillis());
      throw e;
    }
    Throwable e = crew.failure();
    switch (e) {
      case null -> {}
      case IOException io -> throw io;
      case InterruptedException ie -> throw ie;
      case RuntimeException re -> throw re;
      case Error err -> throw err;
      default -> throw new IllegalStateException(e);
    }
  }

  /** Lame-duck close: lets in-flight requests finish (bounded), then closes the socket. */
  void close() {
    closing = true;
    inFlight.awaitIdle(options.shutdownGrace().toMillis());
    closeTransport();
  }

  /** The connection's number, as the log names it. */
  long id() {
    return id;
  }

  /** True once {@link #close} began: failures from then on are expected. */
  boolean closing() {
    return closing;
  }

  /** Closes the socket (through TLS when it is on); idempotent, and any thread may call it. */
  void closeTransport() {
    Transport t = transport;
    try {
      if (t != null) {
        t.close();
      } else {
        channel.close();
      }
    } catch (IOException e) {
      log.debug("connection {}: close: {}", id, e.toString());
    }
  }

  private String peer() {
    try {
      var a = channel.getRemoteAddress();
      return a == null || a.toString().isEmpty() ? "unix socket" : a.toString();
    } catch (IOException e) {
      return "unknown peer";
    }
  }
}
