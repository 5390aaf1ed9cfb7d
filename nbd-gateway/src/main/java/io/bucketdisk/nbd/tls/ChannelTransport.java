package io.bucketdisk.nbd.tls;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * A plain {@link Transport} over a blocking {@link SocketChannel} (TCP or Unix domain). Header reads are served
 * from a small read-ahead buffer so a request header and a small WRITE payload usually cost one system call.
 */
public final class ChannelTransport implements Transport {
  private static final int READ_AHEAD = 64 * 1024;

  private final SocketChannel channel;
  private final ByteBuffer readAhead = ByteBuffer.allocateDirect(READ_AHEAD).flip();

  public ChannelTransport(SocketChannel channel) {
    this.channel = channel;
  }

  /** The underlying channel (for the STARTTLS upgrade). */
  public SocketChannel channel() {
    return channel;
  }

  /** Bytes already read from the socket but not yet consumed: TLS must start with these. */
  ByteBuffer pending() {
    return readAhead;
  }

  @Override
  public void readFully(ByteBuffer dst) throws IOException {
    if (readAhead.hasRemaining()) {
      int n = Math.min(readAhead.remaining(), dst.remaining());
      int limit = readAhead.limit();
      readAhead.limit(readAhead.position() + n);
      dst.put(readAhead);
      readAhead.limit(limit);
    }
    if (!dst.hasRemaining()) {
      return;
    }
    // Large destinations are read straight into place; small ones go through the read-ahead buffer.
    if (dst.remaining() >= READ_AHEAD / 2) {
      while (dst.hasRemaining()) {
        if (channel.read(dst) < 0) {
          throw new EOFException("peer closed the connection");
        }
      }
      return;
    }
    readAhead.clear();
    try {
      while (readAhead.position() < dst.remaining()) {
        if (channel.read(readAhead) < 0) {
          throw new EOFException("peer closed the connection");
        }
      }
    } finally {
      readAhead.flip();
    }
    int limit = readAhead.limit();
    readAhead.limit(dst.remaining());
    dst.put(readAhead);
    readAhead.limit(limit);
  }

  @Override
  public int buffered() {
    return readAhead.remaining();
  }

  @Override
  public void write(ByteBuffer... srcs) throws IOException {
    long left = 0;
    for (ByteBuffer b : srcs) {
      left += b.remaining();
    }
    while (left > 0) {
      left -= channel.write(srcs);
    }
  }

  @Override
  public boolean isTls() {
    return false;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
