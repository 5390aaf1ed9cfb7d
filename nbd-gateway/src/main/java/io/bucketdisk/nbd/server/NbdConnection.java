package io.bucketdisk.nbd.server;

import static io.bucketdisk.nbd.wire.NbdConstants.*;

import io.bucketdisk.nbd.export.CheckedExport;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ExportProvider;
import io.bucketdisk.nbd.export.NbdError;
import io.bucketdisk.nbd.handshake.Handshake;
import io.bucketdisk.nbd.handshake.Session;
import io.bucketdisk.nbd.tls.ChannelTransport;
import io.bucketdisk.nbd.tls.Transport;
import io.bucketdisk.nbd.wire.ProtocolException;
import io.bucketdisk.nbd.wire.RequestDecoder;
import io.bucketdisk.nbd.wire.RequestHeader;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection: the handshake, then the transmission reader loop (NBD spec "Transmission phase").
 *
 * <p><b>Flow.</b> A reader thread (see {@link Crew}) reads a header, validates it with {@link RequestValidator}
 * and reads any WRITE payload into a pooled direct buffer. It then either serves the request itself, after
 * passing the reading role to the connection's other reader thread (a lone request: no thread wake-up between
 * request and reply), or hands it to a new virtual thread and keeps reading (the client is pipelining, or the
 * other reader is busy). Either way the export is called and the reply goes out through {@link ReplyWriter}, in
 * completion order, matched by cookie, and a slow request never holds up the ones read after it. A rejected request's payload is still consumed so framing holds; a payload
 * too large to be anything but hostile, or a bad magic, ends the connection (hard disconnect).
 *
 * <p><b>Bounds.</b> At most {@code maxInFlight} requests and {@code maxInFlightBytes} payload bytes are in flight;
 * the reader waits for permits before reading further, so a client cannot make the server buffer without limit.
 * Nothing is allocated from an announced length before it has been validated.
 *
 * <p><b>FLUSH.</b> A FLUSH is executed when it is read; every write already answered has completed in the export,
 * so the export's flush covers it (the server never reorders a flush before a write it acknowledged).
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
  static final AtomicLong BUGS = new AtomicLong();
  /** WRITE payloads up to this are drained when rejected; larger ones end the connection. */
  static final long MAX_DRAIN = 2L * MAX_PAYLOAD;

  private final SocketChannel channel;
  private final ExportProvider provider;
  private final ServerOptions options;
  private final PayloadBuffers pool;
  private final NbdListener listener;
  private final long id = IDS.incrementAndGet();
  private final Semaphore slots;
  private final Semaphore bytes;
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
    this.slots = new Semaphore(options.maxInFlight());
    this.bytes = new Semaphore(options.maxInFlightBytes());
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
      BUGS.incrementAndGet();
      log.error("connection {} from {}: bug in the server", id, peer, e);
    } finally {
      awaitIdle(options.shutdownGrace().toMillis() * 2);
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
   * Serves the transmission phase with a {@link Crew} and waits until its reading ends; rethrows what ended it.
   */
  private void transmission(Session s) throws IOException, InterruptedException {
    var crew = new Crew(s);
    crew.start();
    try {
      crew.done.await();
    } catch (InterruptedException e) {
      closeTransport();
      crew.done.await(options.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS);
      throw e;
    }
    Throwable e = crew.failure.get();
    switch (e) {
      case null -> {}
      case IOException io -> throw io;
      case InterruptedException ie -> throw ie;
      case RuntimeException re -> throw re;
      case Error err -> throw err;
      default -> throw new IllegalStateException(e);
    }
  }

  /** A validated request whose payload has been read and whose in-flight permits are held. */
  private record Request(RequestHeader header, @Nullable ByteBuffer payload, int permitBytes) {}

  /**
   * The threads that read one connection's requests, in leader/follower turns (the thread that reads a request
   * serves it, as nbdkit's workers do). One member at a time holds the reading role. After reading a request it
   * passes the role to an idle member and executes the request itself, so a lone request (queue depth 1) costs no
   * thread wake-up between its read and its reply; the wake-up of the next reader happens while the request
   * runs. With no idle member (the others are busy serving) the request goes to a new virtual thread instead and
   * the holder keeps reading, so a slow request never holds up the requests pipelined behind it.
   *
   * <p>At most {@link #CREW} members: platform threads by default (a blocking socket read on a platform thread
   * wakes straight from the kernel, on a virtual one through the JDK's poller), virtual ones when {@link
   * ServerOptions#platformReaders()} is off. The reading state (header buffer, transport read side, scratch) is
   * only touched by the role holder; passing the role is a volatile write of {@link #reader}, which orders it.
   */
  private final class Crew {
    /** Members per connection: one reading, one serving inline; more would not help on a few cores. */
    private static final int CREW = 2;

    private final Session session;
    private final Transport t;
    private final Export export;
    private final ReplyWriter writer;
    private final RequestValidator validator;
    private final Dispatcher dispatcher;
    private final ByteBuffer header;
    private @Nullable ByteBuffer scratch;
    private int members;
    private volatile @Nullable Thread reader;
    private final AtomicReference<@Nullable Thread> idle = new AtomicReference<>();
    private volatile boolean ended;
    final AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    final CountDownLatch done = new CountDownLatch(1);

    Crew(Session s) {
      session = s;
      t = s.transport();
      export = new CheckedExport(s.export());
      writer = new ReplyWriter(t, s.structured(), s.extended());
      validator = new RequestValidator(s.info(), s.structured(), s.extended(), !s.metaContexts().isEmpty());
      dispatcher = new Dispatcher(export, writer, s.metaContexts());
      header = ByteBuffer.allocate(RequestDecoder.headerSize(s.extended()));
    }

    void start() {
      Thread first = member();
      reader = first;
      first.start();
    }

    /** A new, unstarted member; only the role holder (or {@link #start}) creates members. */
    private Thread member() {
      members++;
      String name = "nbd-reader-" + id + "-" + members;
      return options.platformReaders()
          ? Thread.ofPlatform().daemon().stackSize(256 << 10).name(name).unstarted(this::serve)
          : Thread.ofVirtual().name(name).unstarted(this::serve);
    }

    private void serve() {
      Thread me = Thread.currentThread();
      try {
        while (true) {
          while (reader != me) {
            if (ended) {
              return;
            }
            LockSupport.park(this);
          }
          Request r = next();
          if (r == null) {
            finish(null);
            return;
          }
          // A client that already sent more is pipelining: keep reading and hand this request off, as a role
          // change costs a wake-up each time. Otherwise the next read would block: serve this one here.
          Thread follower = t.buffered() > 0 ? null : idle.getAndSet(null);
          if (follower != null) {
            reader = follower;
            LockSupport.unpark(follower);
          } else if (members < CREW && t.buffered() == 0) {
            follower = member();
            reader = follower;
            follower.start();
          } else {
            Thread.startVirtualThread(() -> execute(r));
            continue;
          }
          execute(r);
          // Publish idleness before looking at `ended` (in the loop), while finish() sets `ended` before
          // looking at `idle`: one of the two sees the other, so no member parks forever.
          idle.set(me);
        }
      } catch (Throwable e) {
        finish(e);
      }
    }

    /** Ends the crew: the first failure is kept, idle members leave, the connection thread is released. */
    private void finish(@Nullable Throwable e) {
      if (e != null) {
        failure.compareAndSet(null, e);
      }
      ended = true;
      Thread f = idle.getAndSet(null);
      if (f != null) {
        LockSupport.unpark(f);
      }
      done.countDown();
    }

    /**
     * Reads until a request is ready to execute, answering refused ones itself; null when the connection ends
     * cleanly (DISC, or a simple-reply client during shutdown) after in-flight requests finished.
     */
    private @Nullable Request next() throws IOException, InterruptedException {
      while (true) {
        header.clear();
        t.readFully(header);
        RequestHeader h = RequestDecoder.decode(header.flip(), session.extended());
        if (h.type() == CMD_DISC) {
          log.debug("connection {}: DISC", id);
          awaitIdle(Long.MAX_VALUE);
          return null;
        }
        if (listener.stopping() && !session.structured()) {
          // A simple-reply client (the Linux kernel's among them) fails the application's I/O with EIO on any
          // error reply, but requeues unanswered requests when a connection drops and the node plugin
          // reconnects. So it gets no ESHUTDOWN: this request stays unanswered, in-flight ones finish, and the
          // connection closes.
          log.debug("connection {}: {} left unanswered, closing for shutdown", id, commandName(h.type()));
          awaitIdle(Long.MAX_VALUE);
          return null;
        }
        RequestValidator.Rejection rejection =
            listener.stopping()
                ? new RequestValidator.Rejection(NbdError.ESHUTDOWN, "server is shutting down")
                : validator.validate(h, export.size());
        if (rejection != null) {
          if (h.hasPayload()) {
            if (h.length() < 0 || h.length() > MAX_DRAIN) {
              throw new ProtocolException("payload of " + Long.toUnsignedString(h.length()) + " bytes refused");
            }
            if (scratch == null) {
              scratch = ByteBuffer.allocate(64 * 1024);
            }
            t.skip(h.length(), scratch);
          }
          log.debug("connection {}: {} refused: {}", id, commandName(h.type()), rejection.reason());
          writer.error(h, rejection.error(), rejection.reason());
          continue;
        }
        int payloadBytes = h.type() == CMD_READ || h.type() == CMD_WRITE ? (int) h.length() : 0;
        slots.acquire();
        bytes.acquire(payloadBytes);
        ByteBuffer payload = null;
        try {
          if (h.type() == CMD_WRITE) {
            payload = pool.acquire(payloadBytes);
            t.readFully(payload);
            payload.flip();
          }
        } catch (IOException | RuntimeException e) {
          if (payload != null) {
            pool.release(payload);
          }
          bytes.release(payloadBytes);
          slots.release();
          throw e;
        }
        return new Request(h, payload, payloadBytes);
      }
    }

    /** Serves one request and gives back its buffer and permits. */
    private void execute(Request r) {
      try {
        dispatcher.execute(r.header(), r.payload());
      } catch (IOException e) {
        // The reply could not be written: the socket is gone; this ends the reader too.
        if (!closing) {
          log.debug("connection {}: reply to {} failed: {}", id, commandName(r.header().type()), e.toString());
        }
        closeTransport();
      } finally {
        if (r.payload() != null) {
          pool.release(r.payload());
        }
        bytes.release(r.permitBytes());
        slots.release();
      }
    }
  }

  /** Executes one validated request against the export and writes its reply. */
  private final class Dispatcher {
    private final Export export;
    private final ReplyWriter writer;
    private final List<String> contexts;

    Dispatcher(Export export, ReplyWriter writer, List<String> contexts) {
      this.export = export;
      this.writer = writer;
      this.contexts = contexts;
    }

    void execute(RequestHeader h, @Nullable ByteBuffer payload) throws IOException {
      int fua = h.has(CMD_FLAG_FUA) ? Export.FUA : 0;
      ByteBuffer data = null;
      BlockStatus status = null;
      try {
        try {
          switch (h.type()) {
            case CMD_READ -> {
              data = pool.acquire((int) h.length());
              export.read(h.offset(), data, fua);
              data.flip();
            }
            case CMD_WRITE -> export.write(h.offset(), java.util.Objects.requireNonNull(payload), fua);
            case CMD_FLUSH -> export.flush(0);
            case CMD_TRIM -> export.trim(h.offset(), h.length(), fua);
            case CMD_WRITE_ZEROES -> {
              int flags = fua;
              if (!h.has(CMD_FLAG_NO_HOLE)) {
                flags |= Export.MAY_TRIM;
              }
              if (h.has(CMD_FLAG_FAST_ZERO)) {
                flags |= Export.FAST_ZERO;
              }
              export.zero(h.offset(), h.length(), flags);
            }
            case CMD_CACHE -> export.cache(h.offset(), h.length(), 0);
            case CMD_BLOCK_STATUS -> status = blockStatus(h);
            default -> throw new IllegalStateException("unvalidated command " + h.type());
          }
        } catch (IOException | RuntimeException | AssertionError e) {
          if (!(e instanceof IOException)) {
            BUGS.incrementAndGet();
          }
          NbdError error = NbdErrors.map(e, h, exportName);
          writer.error(h, error, e.getMessage() == null ? error.name() : e.getMessage());
          return;
        }
        if (data != null) {
          writer.read(h, data);
        } else if (status != null) {
          for (int i = 0; i < status.counts.length; i++) {
            writer.blockStatus(
                h, i + 1, status.lengths[i], status.flags[i], status.counts[i], i == status.counts.length - 1);
          }
        } else {
          writer.ok(h);
        }
      } finally {
        if (data != null) {
          pool.release(data);
        }
      }
    }

    /** Asks every context before replying, so an export error becomes one error reply, not a half-sent one. */
    private BlockStatus blockStatus(RequestHeader h) throws IOException {
      boolean one = h.has(CMD_FLAG_REQ_ONE);
      var extents = new ExtentCollector(h.length(), one);
      var status = new BlockStatus(contexts.size());
      for (int i = 0; i < contexts.size(); i++) {
        extents.reset();
        export.blockStatus(contexts.get(i), h.offset(), h.length(), one ? Export.REQ_ONE : 0, extents);
        if (extents.count == 0) {
          throw new IOException("export described no extent in " + contexts.get(i));
        }
        status.lengths[i] = java.util.Arrays.copyOf(extents.lengths, extents.count);
        status.flags[i] = java.util.Arrays.copyOf(extents.flags, extents.count);
        status.counts[i] = extents.count;
      }
      return status;
    }
  }

  /** The extents of one BLOCK_STATUS request, per selected context. */
  private static final class BlockStatus {
    final long[][] lengths;
    final int[][] flags;
    final int[] counts;

    BlockStatus(int contexts) {
      lengths = new long[contexts][];
      flags = new int[contexts][];
      counts = new int[contexts];
    }
  }

  /**
   * Gathers extents for one context: clipped to the request, equal neighbours merged, at most one with
   * REQ_ONE, at most 2^20 descriptors (NBD spec "BLOCK_STATUS": SHOULD NOT send more per chunk).
   */
  static final class ExtentCollector implements Export.ExtentSink {
    private static final int MAX_EXTENTS = 1 << 20;
    private final long length;
    private final boolean one;
    long[] lengths = new long[16];
    int[] flags = new int[16];
    int count;
    private long sum;

    ExtentCollector(long length, boolean one) {
      this.length = length;
      this.one = one;
    }

    void reset() {
      count = 0;
      sum = 0;
    }

    @Override
    public boolean extent(long extentLength, int extentFlags) {
      if (extentLength <= 0 || sum >= length) {
        return false;
      }
      long l = Math.min(extentLength, length - sum);
      if (count > 0 && flags[count - 1] == extentFlags) {
        lengths[count - 1] += l;
      } else {
        if (count == lengths.length) {
          lengths = java.util.Arrays.copyOf(lengths, count * 2);
          flags = java.util.Arrays.copyOf(flags, count * 2);
        }
        lengths[count] = l;
        flags[count] = extentFlags;
        count++;
      }
      sum += l;
      return !one && sum < length && count < MAX_EXTENTS;
    }
  }

  private void awaitIdle(long millis) {
    try {
      if (slots.tryAcquire(options.maxInFlight(), millis, TimeUnit.MILLISECONDS)) {
        slots.release(options.maxInFlight());
      } else {
        log.warn("connection {}: requests still in flight after {} ms", id, millis);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Lame-duck close: lets in-flight requests finish (bounded), then closes the socket. */
  void close() {
    closing = true;
    awaitIdle(options.shutdownGrace().toMillis());
    closeTransport();
  }

  private void closeTransport() {
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
