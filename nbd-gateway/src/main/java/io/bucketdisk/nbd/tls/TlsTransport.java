package io.bucketdisk.nbd.tls;

import io.bucketdisk.common.tls.PeerIdentity;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;

/**
 * TLS over a blocking socket channel with the JDK {@link SSLEngine}, started after NBD_OPT_STARTTLS was
 * acknowledged (NBD spec "TLS support"). Works the same over TCP and Unix sockets.
 *
 * <p><b>Threads and locks.</b> The reader thread alone unwraps; writers wrap under {@code writeLock}. SSLEngine
 * allows one wrap and one unwrap at the same time. When unwrapping needs a wrap (TLS 1.3 key update), the reader
 * takes {@code writeLock}; it never holds anything else then, so the order is: the server's reply lock, then
 * {@code writeLock}.
 */
public final class TlsTransport implements Transport {
  private final SocketChannel channel;
  private final SSLEngine engine;
  private final ReentrantLock writeLock = new ReentrantLock();
  private ByteBuffer netIn; // ciphertext from the peer, read mode
  private ByteBuffer appIn; // plaintext for the reader, read mode
  private ByteBuffer netOut; // ciphertext to the peer, guarded by writeLock
  private volatile boolean closed;

  private TlsTransport(SocketChannel channel, SSLEngine engine, ByteBuffer pending) {
    this.channel = channel;
    this.engine = engine;
    var session = engine.getSession();
    netIn = ByteBuffer.allocate(Math.max(session.getPacketBufferSize(), pending.remaining()));
    netIn.put(pending).flip();
    appIn = ByteBuffer.allocate(session.getApplicationBufferSize()).flip();
    netOut = ByteBuffer.allocate(session.getPacketBufferSize());
  }

  /**
   * Runs the server side of the TLS handshake on {@code plain}'s channel and returns the encrypted stream. With
   * {@code needClientCertificate} a client that shows no certificate, or one the context's trust manager does not
   * accept, fails the handshake.
   *
   * @throws SSLException when the handshake fails (the caller must hard-disconnect)
   */
  public static TlsTransport accept(ChannelTransport plain, SSLContext context, boolean needClientCertificate)
      throws IOException {
    SSLEngine engine = context.createSSLEngine();
    engine.setUseClientMode(false);
    engine.setNeedClientAuth(needClientCertificate);
    var t = new TlsTransport(plain.channel(), engine, plain.pending());
    t.handshake();
    return t;
  }

  private void handshake() throws IOException {
    engine.beginHandshake();
    var empty = ByteBuffer.allocate(0);
    for (int steps = 0; steps < 10_000; steps++) {
      switch (engine.getHandshakeStatus()) {
        case NEED_WRAP -> wrap(empty);
        case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> unwrapOnce();
        case NEED_TASK -> runTasks();
        case FINISHED, NOT_HANDSHAKING -> {
          return;
        }
      }
    }
    throw new SSLException("TLS handshake did not finish");
  }

  private void runTasks() {
    Runnable task;
    while ((task = engine.getDelegatedTask()) != null) {
      task.run();
    }
  }

  @Override
  public void readFully(ByteBuffer dst) throws IOException {
    while (dst.hasRemaining()) {
      if (appIn.hasRemaining()) {
        int n = Math.min(appIn.remaining(), dst.remaining());
        int limit = appIn.limit();
        appIn.limit(appIn.position() + n);
        dst.put(appIn);
        appIn.limit(limit);
      } else {
        unwrapOnce();
      }
    }
  }

  /** Unwraps one TLS record into {@code appIn}, reading from the socket as needed. */
  private void unwrapOnce() throws IOException {
    appIn.compact();
    try {
      while (true) {
        SSLEngineResult r = engine.unwrap(netIn, appIn);
        switch (r.getStatus()) {
          case OK -> {
            switch (r.getHandshakeStatus()) {
              case NEED_TASK -> runTasks();
              case NEED_WRAP -> wrap(ByteBuffer.allocate(0));
              default -> {}
            }
            if (r.bytesProduced() > 0 || r.bytesConsumed() > 0) {
              return;
            }
          }
          case BUFFER_UNDERFLOW -> fill();
          case BUFFER_OVERFLOW -> {
            var bigger = ByteBuffer.allocate(appIn.capacity() + engine.getSession().getApplicationBufferSize());
            appIn.flip();
            appIn = bigger.put(appIn);
          }
          case CLOSED -> throw new EOFException("peer closed the TLS session");
        }
      }
    } finally {
      appIn.flip();
    }
  }

  private void fill() throws IOException {
    netIn.compact();
    try {
      if (!netIn.hasRemaining()) {
        var bigger = ByteBuffer.allocate(netIn.capacity() * 2);
        netIn.flip();
        netIn = bigger.put(netIn);
      }
      if (channel.read(netIn) < 0) {
        throw new EOFException("peer closed the connection during TLS");
      }
    } finally {
      netIn.flip();
    }
  }

  @Override
  public int buffered() {
    return appIn.remaining() + netIn.remaining();
  }

  @Override
  public void write(ByteBuffer... srcs) throws IOException {
    writeLock.lock();
    try {
      do {
        wrapLocked(srcs);
      } while (anyRemaining(srcs));
    } finally {
      writeLock.unlock();
    }
  }

  private void wrap(ByteBuffer src) throws IOException {
    writeLock.lock();
    try {
      wrapLocked(new ByteBuffer[] {src});
    } finally {
      writeLock.unlock();
    }
  }

  private void wrapLocked(ByteBuffer[] srcs) throws IOException {
    while (true) {
      netOut.clear();
      SSLEngineResult r = engine.wrap(srcs, netOut);
      switch (r.getStatus()) {
        case OK -> {
          netOut.flip();
          while (netOut.hasRemaining()) {
            channel.write(netOut);
          }
          if (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK) {
            runTasks();
          }
          return;
        }
        case BUFFER_OVERFLOW -> netOut = ByteBuffer.allocate(netOut.capacity() * 2);
        case CLOSED -> {
          netOut.flip();
          while (netOut.hasRemaining()) {
            channel.write(netOut);
          }
          if (anyRemaining(srcs)) {
            throw new EOFException("TLS session closed");
          }
          return;
        }
        case BUFFER_UNDERFLOW -> throw new SSLException("unexpected underflow on wrap");
      }
    }
  }

  private static boolean anyRemaining(ByteBuffer[] srcs) {
    for (ByteBuffer b : srcs) {
      if (b.hasRemaining()) {
        return true;
      }
    }
    return false;
  }

  @Override
  public boolean isTls() {
    return true;
  }

  /** The node named by the client's verified certificate ({@link PeerIdentity}); empty when it showed none. */
  public Optional<String> peerIdentity() {
    return PeerIdentity.of(engine.getSession());
  }

  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      if (writeLock.tryLock(1, java.util.concurrent.TimeUnit.SECONDS)) {
        try {
          engine.closeOutbound();
          wrapLocked(new ByteBuffer[] {ByteBuffer.allocate(0)});
        } finally {
          writeLock.unlock();
        }
      }
    } catch (IOException | InterruptedException e) {
      // close_notify is best effort; the socket closes regardless.
    } finally {
      channel.close();
    }
  }
}
