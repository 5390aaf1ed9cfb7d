package io.bucketdisk.nbd.tls;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The byte stream under the NBD protocol: a plain socket channel (TCP or Unix) or TLS over one.
 *
 * <p><b>Threads.</b> One thread reads (the connection's reader) while others write; writers must serialize
 * among themselves (the server's {@code ReplyWriter} holds a lock). Reading and writing may overlap.
 */
public interface Transport extends Closeable {

  /** Fills {@code dst} completely; throws {@link java.io.EOFException} if the peer closes first. */
  void readFully(ByteBuffer dst) throws IOException;

  /** Reads and discards {@code length} bytes through {@code scratch}, allocating nothing. */
  default void skip(long length, ByteBuffer scratch) throws IOException {
    long left = length;
    while (left > 0) {
      scratch.clear().limit((int) Math.min(scratch.capacity(), left));
      readFully(scratch);
      left -= scratch.limit();
    }
  }

  /**
   * Bytes already received and not yet consumed by {@link #readFully}: more than zero means the peer has sent
   * more (a pipelining client), so the next read will not block. Only the reading thread may ask.
   */
  default int buffered() {
    return 0;
  }

  /** Writes every remaining byte of {@code srcs}, in order (a gathering write where possible). */
  void write(ByteBuffer... srcs) throws IOException;

  /** Whether this stream is encrypted. */
  boolean isTls();

  /** Ends the stream: TLS close_notify first when encrypted, then the socket. Idempotent. */
  @Override
  void close() throws IOException;
}
