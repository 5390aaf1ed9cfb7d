package io.bucketdisk.nbd.server;

import static io.bucketdisk.nbd.wire.NbdConstants.*;

import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.NbdError;
import io.bucketdisk.nbd.handshake.Session;
import io.bucketdisk.nbd.tls.Transport;
import io.bucketdisk.nbd.wire.ProtocolException;
import io.bucketdisk.nbd.wire.RequestDecoder;
import io.bucketdisk.nbd.wire.RequestHeader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The read side of one connection in transmission (NBD spec "Transmission phase"): reads a request header,
 * validates it with {@link RequestValidator}, takes the request's {@link InFlightRequests} permits and reads any
 * WRITE payload into a pooled direct buffer. A rejected request is answered here, and its payload is still
 * consumed so framing holds; a payload too large to be anything but hostile, or a bad magic, ends the connection
 * (hard disconnect). Nothing is allocated from an announced length before it has been validated.
 *
 * <p>Not thread safe: only the thread holding the reading role ({@link ReaderCrew}) calls {@link #next} and
 * {@link #buffered}; passing the role orders its accesses to the header buffer, the drain buffer and the
 * transport's read side. {@link #release} may be called from any thread. A request's payload buffer and permits
 * belong to it from {@link #next} until {@link #release}.
 */
final class RequestReader {
  private static final Logger log = LoggerFactory.getLogger(RequestReader.class);
  /** WRITE payloads up to this are drained when rejected; larger ones end the connection. */
  static final long MAX_DRAIN = 2L * MAX_PAYLOAD;

  /** A validated request whose payload has been read and whose in-flight permits are held. */
  record Request(RequestHeader header, @Nullable ByteBuffer payload, int permitBytes) {}

  private final long connection;
  private final Session session;
  private final Transport t;
  private final Export export;
  private final ReplyWriter writer;
  private final RequestValidator validator;
  private final InFlightRequests inFlight;
  private final PayloadBuffers pool;
  private final HeldReplies held;
  private final BooleanSupplier stopping;
  private final ByteBuffer header;
  private @Nullable ByteBuffer scratch;

  /**
   * @param connection the connection's id, for the log
   * @param writer answers refused requests
   * @param held the replies to send before waiting for the requests in flight to finish
   * @param stopping answers true once the server is stopping (lame duck)
   */
  RequestReader(long connection, Session s, Export export, ReplyWriter writer, InFlightRequests inFlight,
      PayloadBuffers pool, HeldReplies held, BooleanSupplier stopping) {
    this.connection = connection;
    this.session = s;
    this.t = s.transport();
    this.export = export;
    this.writer = writer;
    this.validator = new RequestValidator(s.info(), s.structured(), s.extended(), !s.metaContexts().isEmpty());
    this.inFlight = inFlight;
    this.pool = pool;
    this.held = held;
    this.stopping = stopping;
    this.header = ByteBuffer.allocate(RequestDecoder.headerSize(s.extended()));
  }

  /**
   * Reads until a request is ready to execute, answering refused ones itself; null when the connection ends
   * cleanly (DISC, or a simple-reply client during shutdown) after in-flight requests finished.
   */
  @Nullable Request next() throws IOException, InterruptedException {
    while (true) {
      header.clear();
      t.readFully(header);
      RequestHeader h = RequestDecoder.decode(header.flip(), session.extended());
      if (h.type() == CMD_DISC) {
        log.debug("connection {}: DISC", connection);
        awaitAnswered();
        return null;
      }
      if (stopping.getAsBoolean() && !session.structured()) {
        // A simple-reply client (the Linux kernel's among them) fails the application's I/O with EIO on any
        // error reply, but requeues unanswered requests when a connection drops and the node plugin
        // reconnects. So it gets no ESHUTDOWN: this request stays unanswered, in-flight ones finish, and the
        // connection closes.
        log.debug("connection {}: {} left unanswered, closing for shutdown", connection, commandName(h.type()));
        awaitAnswered();
        return null;
      }
      RequestValidator.Rejection rejection =
          stopping.getAsBoolean()
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
        log.debug("connection {}: {} refused: {}", connection, commandName(h.type()), rejection.reason());
        writer.error(h, rejection.error(), rejection.reason());
        continue;
      }
      int payloadBytes = h.type() == CMD_READ || h.type() == CMD_WRITE ? (int) h.length() : 0;
      inFlight.acquire(payloadBytes);
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
        inFlight.release(payloadBytes);
        throw e;
      }
      return new Request(h, payload, payloadBytes);
    }
  }

  /**
   * Bytes the client already sent beyond the last request read: more than zero means it is pipelining, and the
   * next {@link #next} will not block.
   */
  int buffered() {
    return t.buffered();
  }

  /** Sends the replies held so far, then waits until every request in flight is answered. */
  private void awaitAnswered() throws IOException {
    held.flush();
    inFlight.awaitIdle(Long.MAX_VALUE);
  }

  /** Whether a whole request header is buffered already, so that {@link #next} will not block reading one. */
  boolean headerBuffered() {
    return t.buffered() >= header.capacity();
  }

  /** Gives back the payload bytes of a READ whose reply {@link HeldReplies} holds; the slot goes back when it is sent. */
  void releaseHeld(Request r) {
    inFlight.releaseBytes(r.permitBytes());
  }

  /** Gives back the payload buffer and the permits of a request that {@link #next} returned. */
  void release(Request r) {
    if (r.payload() != null) {
      pool.release(r.payload());
    }
    inFlight.release(r.permitBytes());
  }
}
