package io.bucketdisk.nbd.server;

import io.bucketdisk.nbd.wire.RequestHeader;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * READ replies answered on the reading thread ({@link Dispatcher#executeIfHeld}), gathered so that the requests a
 * client pipelined together are answered by one socket write, not one each: at queue depth 32 over a memory export
 * the reply's {@code writev} was half of the reading thread's time. The reading thread flushes before anything that
 * may block it (the next request is not buffered yet, a request it must hand off or execute), and whenever
 * {@link #full}; so a reply waits only while the thread answers requests that are already there.
 *
 * <p>A held reply keeps its request's slot in {@link InFlightRequests} until it is written, so that every slot
 * back still means every request answered; its payload bytes go back at once. Fewer replies are held than half the
 * slots, so the reading thread never waits for a slot that only its own flush would give back.
 *
 * <p>Not thread safe: owned by the holder of the reading role ({@link ReaderCrew}), like {@link RequestReader}.
 * Each reply's payload buffer is leased from the pool and goes back to it when flushed, written or not.
 */
final class HeldReplies {
  /** Replies gathered at most; each is a header and a payload in the gathering write. */
  static final int MAX_REPLIES = 16;
  /** Payload bytes gathered at most before a flush. */
  static final int MAX_BYTES = 256 << 10;
  private static final int HEADER_BYTES = 64;

  private final ReplyWriter writer;
  private final PayloadBuffers pool;
  private final InFlightRequests inFlight;
  private final int limit;
  private final ByteBuffer[] headers = new ByteBuffer[MAX_REPLIES];
  private final ByteBuffer[] payloads = new ByteBuffer[MAX_REPLIES];
  /** One gathering array per reply count, so a flush allocates nothing. */
  private final ByteBuffer[][] gathers = new ByteBuffer[MAX_REPLIES + 1][];
  private int count;
  private int bytes;

  HeldReplies(ReplyWriter writer, PayloadBuffers pool, InFlightRequests inFlight) {
    this.writer = writer;
    this.pool = pool;
    this.inFlight = inFlight;
    this.limit = Math.max(1, Math.min(MAX_REPLIES, inFlight.maxRequests() / 2));
    ByteBuffer all = ByteBuffer.allocateDirect(MAX_REPLIES * HEADER_BYTES);
    for (int i = 0; i < MAX_REPLIES; i++) {
      headers[i] = all.slice(i * HEADER_BYTES, HEADER_BYTES);
      gathers[i + 1] = new ByteBuffer[2 * (i + 1)];
    }
  }

  /**
   * Holds the reply to READ {@code h} with {@code data} (position to limit), a buffer leased from the pool; the
   * request's payload bytes went back already, its slot is held here.
   */
  void read(RequestHeader h, ByteBuffer data) {
    ByteBuffer header = headers[count].clear();
    writer.encodeRead(header, h, data.remaining());
    bytes += data.remaining();
    payloads[count++] = data;
  }

  /** Whether the next reply might not fit. */
  boolean full() {
    return count >= limit || bytes + Dispatcher.MAX_HELD_READ > MAX_BYTES;
  }

  /**
   * Writes every held reply in one gathering write; their buffers go back to the pool and their slots to the
   * connection even when it fails.
   */
  void flush() throws IOException {
    if (count == 0) {
      return;
    }
    ByteBuffer[] gather = gathers[count];
    for (int i = 0; i < count; i++) {
      gather[2 * i] = headers[i].flip();
      gather[2 * i + 1] = payloads[i];
    }
    try {
      writer.write(gather);
    } finally {
      for (int i = 0; i < count; i++) {
        pool.release(payloads[i]);
        payloads[i] = null;
        gather[2 * i + 1] = null;
      }
      inFlight.releaseSlots(count);
      count = 0;
      bytes = 0;
    }
  }
}
