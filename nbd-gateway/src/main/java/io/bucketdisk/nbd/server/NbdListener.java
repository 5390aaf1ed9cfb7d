package io.bucketdisk.nbd.server;

import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.nbd.export.ExportProvider;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The NBD server: accepts connections on any number of TCP and Unix-domain addresses and runs each connection
 * ({@link NbdConnection}) on a virtual thread: the handshake there, then two reader threads per connection,
 * platform threads by default (see {@link ServerOptions#platformReaders()}), which serve lone requests
 * themselves and hand pipelined ones to virtual threads. Thread safe.
 *
 * <p><b>Stopping (lame duck).</b> {@link #stop()} stops accepting, makes open handshakes answer ERR_SHUTDOWN and
 * transmissions answer ESHUTDOWN to new requests, gives clients {@link ServerOptions#shutdownGrace()} to
 * disconnect on their own, then lets each remaining connection finish its in-flight requests and closes it.
 * The provider is not closed here: its owner closes (and so flushes) it after {@code stop()} returns, so nothing
 * acknowledged is lost.
 */
public final class NbdListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NbdListener.class);

  private final ExportProvider provider;
  private final ServerOptions options;
  private final PayloadBuffers pool = new PayloadBuffers();
  private final List<ServerSocketChannel> servers = new CopyOnWriteArrayList<>();
  private final List<Path> socketFiles = new CopyOnWriteArrayList<>();
  private final Set<NbdConnection> connections = ConcurrentHashMap.newKeySet();
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
  private volatile boolean stopping;

  public NbdListener(ExportProvider provider, ServerOptions options) {
    this.provider = provider;
    this.options = options;
  }

  /** Binds {@code address}, starts accepting on it and returns the bound address (with the real port). */
  public SocketAddress listen(SocketAddress address) throws IOException {
    if (stopping) {
      throw new IllegalStateException("server is stopping");
    }
    ServerSocketChannel server;
    if (address instanceof UnixDomainSocketAddress unix) {
      Path path = unix.getPath();
      if (path.getParent() != null) {
        Files.createDirectories(path.getParent());
      }
      // A socket file left by a previous run blocks bind; only remove sockets, never other files.
      if (Files.exists(path) && !Files.isRegularFile(path) && !Files.isDirectory(path)) {
        Files.delete(path);
      }
      server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      server.bind(unix);
      socketFiles.add(path);
    } else {
      server = ServerSocketChannel.open();
      server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      server.bind(address, 128);
    }
    servers.add(server);
    SocketAddress bound = server.getLocalAddress();
    Thread t = Thread.ofVirtual().name("nbd-accept " + bound).start(() -> accept(server));
    threads.add(t);
    log.info("NBD listening on {}", describe(bound));
    return bound;
  }

  /** A human-readable form of a bound address: {@code host:port} or {@code unix:///path} ({@link Endpoint#target}). */
  public static String describe(SocketAddress address) {
    return Endpoint.of(address).target();
  }


  private void accept(ServerSocketChannel server) {
    while (!stopping) {
      SocketChannel channel;
      try {
        channel = server.accept();
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        if (!stopping) {
          log.warn("accept failed: {}", e.toString());
        }
        continue;
      }
      try {
        if (!(channel.getLocalAddress() instanceof UnixDomainSocketAddress)) {
          channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        }
        var connection = new NbdConnection(channel, provider, options, pool, this);
        connections.add(connection);
        // The handshake runs on a virtual thread, so idle or hostile clients cost almost nothing; the
        // transmission reader may move to a platform thread (ServerOptions.platformReaders).
        Thread t = Thread.ofVirtual().name("nbd-connection").unstarted(connection);
        threads.add(t);
        t.start();
      } catch (IOException | RuntimeException e) {
        log.warn("cannot serve a new connection: {}", e.toString());
        try {
          channel.close();
        } catch (IOException ignored) {
          // already failing
        }
      }
    }
  }

  /** True once {@link #stop()} was called. */
  public boolean stopping() {
    return stopping;
  }

  void ended(NbdConnection connection) {
    connections.remove(connection);
    threads.remove(Thread.currentThread());
  }

  /** Connections currently open. */
  public int connectionCount() {
    return connections.size();
  }

  /** Buffers leased from the payload pool (for leak checks in tests). */
  public long leasedBuffers() {
    return pool.leased();
  }

  /** Runtime exceptions caught while serving, process-wide: each is a server bug (zero in a healthy run). */
  public static long internalErrors() {
    return NbdConnection.bugs();
  }

  /** Lame-duck stop (see the class comment). Idempotent; returns when every connection has ended. */
  public void stop() {
    if (stopping) {
      awaitThreads(options.shutdownGrace().toMillis());
      return;
    }
    stopping = true;
    for (ServerSocketChannel s : servers) {
      try {
        s.close();
      } catch (IOException e) {
        log.debug("closing listener: {}", e.toString());
      }
    }
    for (Path p : socketFiles) {
      try {
        Files.deleteIfExists(p);
      } catch (IOException e) {
        log.debug("removing {}: {}", p, e.toString());
      }
    }
    if (!connections.isEmpty()) {
      log.info("stopping: {} connection(s) open, waiting up to {} for clients to disconnect",
          connections.size(), options.shutdownGrace());
    }
    long deadline = System.nanoTime() + options.shutdownGrace().toNanos();
    while (!connections.isEmpty() && System.nanoTime() < deadline) {
      sleep(20);
    }
    var closers = new java.util.ArrayList<Thread>();
    for (NbdConnection c : connections) {
      closers.add(Thread.ofVirtual().start(c::close));
    }
    for (Thread t : closers) {
      join(t, options.shutdownGrace().toMillis() * 2);
    }
    awaitThreads(options.shutdownGrace().toMillis());
    log.info("NBD server stopped");
  }

  private void awaitThreads(long millis) {
    for (Thread t : List.copyOf(threads)) {
      join(t, millis);
    }
  }

  private static void join(Thread t, long millis) {
    try {
      t.join(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    stop();
  }
}
