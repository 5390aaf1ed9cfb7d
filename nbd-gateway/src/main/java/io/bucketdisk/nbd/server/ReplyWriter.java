package io.bucketdisk.nbd.server;

import static io.bucketdisk.nbd.wire.NbdConstants.*;

import io.bucketdisk.nbd.export.NbdError;
import io.bucketdisk.nbd.tls.Transport;
import io.bucketdisk.nbd.wire.OptionCodec;
import io.bucketdisk.nbd.wire.ReplyEncoder;
import io.bucketdisk.nbd.wire.RequestHeader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * The only writer of a connection's socket in transmission. Each reply (header plus payload, or all chunks of
 * one structured reply) goes out under one lock as a gathering write, so replies of concurrent requests never
 * interleave inside a chunk. Thread safe. Payload buffers stay owned by the caller.
 *
 * <p>Mode: simple replies unless structured replies were negotiated; then READ data and every error go in
 * structured chunks (errors as NBD_REPLY_TYPE_ERROR), other successes as simple replies. With extended headers
 * every reply is a 32-byte extended chunk echoing the request offset (simple replies are forbidden there).
 */
final class ReplyWriter {
  private final Transport transport;
  private final boolean structured;
  private final boolean extended;
  private final ReentrantLock lock = new ReentrantLock();
  private final ByteBuffer header = ByteBuffer.allocateDirect(64);
  private final @Nullable ByteBuffer[] pair = new ByteBuffer[2];

  ReplyWriter(Transport transport, boolean structured, boolean extended) {
    this.transport = transport;
    this.structured = structured;
    this.extended = extended;
  }

  /** Successful READ: {@code data} (position to limit) is the content of the whole request range. */
  void read(RequestHeader h, ByteBuffer data) throws IOException {
    lock.lock();
    try {
      encodeRead(header.clear(), h, data.remaining());
      send(data);
    } finally {
      lock.unlock();
    }
  }

  /** Puts the header of a successful READ's reply carrying {@code length} bytes of data into {@code dst}. */
  void encodeRead(ByteBuffer dst, RequestHeader h, int length) {
    if (!structured) {
      ReplyEncoder.simple(dst, 0, h.cookie());
    } else {
      ReplyEncoder.chunk(dst, extended, REPLY_FLAG_DONE, REPLY_TYPE_OFFSET_DATA, h.cookie(), h.offset(), 8L + length);
      dst.putLong(h.offset());
    }
  }

  /** Whole replies, encoded by the caller ({@link HeldReplies}), in one gathering write. */
  void write(ByteBuffer[] replies) throws IOException {
    lock.lock();
    try {
      transport.write(replies);
    } finally {
      lock.unlock();
    }
  }

  /** Success without data. */
  void ok(RequestHeader h) throws IOException {
    lock.lock();
    try {
      header.clear();
      if (!extended) {
        ReplyEncoder.simple(header, 0, h.cookie());
      } else {
        ReplyEncoder.chunk(header, true, REPLY_FLAG_DONE, REPLY_TYPE_NONE, h.cookie(), h.offset(), 0);
      }
      send(null);
    } finally {
      lock.unlock();
    }
  }

  /** Failure: a simple reply with the error, or an NBD_REPLY_TYPE_ERROR chunk carrying {@code message}. */
  void error(RequestHeader h, NbdError error, String message) throws IOException {
    lock.lock();
    try {
      header.clear();
      if (!structured) {
        ReplyEncoder.simple(header, error.value(), h.cookie());
        send(null);
      } else {
        byte[] text = OptionCodec.message(message);
        var payload = ByteBuffer.allocate(ReplyEncoder.errorPayloadLength(text.length));
        ReplyEncoder.errorPayload(payload, error.value(), text);
        ReplyEncoder.chunk(
            header, extended, REPLY_FLAG_DONE, REPLY_TYPE_ERROR, h.cookie(), h.offset(), payload.capacity());
        send(payload.flip());
      }
    } finally {
      lock.unlock();
    }
  }

  /** One BLOCK_STATUS chunk for one context; {@code last} marks the reply done. */
  void blockStatus(RequestHeader h, int contextId, long[] lengths, int[] flags, int count, boolean last)
      throws IOException {
    var payload = ByteBuffer.allocate(ReplyEncoder.blockStatusPayloadLength(extended, count));
    ReplyEncoder.blockStatusPayload(payload, extended, contextId, lengths, flags, count);
    lock.lock();
    try {
      header.clear();
      ReplyEncoder.chunk(
          header,
          extended,
          last ? REPLY_FLAG_DONE : 0,
          extended ? REPLY_TYPE_BLOCK_STATUS_EXT : REPLY_TYPE_BLOCK_STATUS,
          h.cookie(),
          h.offset(),
          payload.capacity());
      send(payload.flip());
    } finally {
      lock.unlock();
    }
  }

  private void send(@Nullable ByteBuffer payload) throws IOException {
    header.flip();
    if (payload == null) {
      transport.write(header);
      return;
    }
    pair[0] = header;
    pair[1] = payload;
    try {
      transport.write(pair);
    } finally {
      pair[1] = null;
    }
  }
}
