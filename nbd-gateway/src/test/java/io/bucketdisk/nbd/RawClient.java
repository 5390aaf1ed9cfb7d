package io.bucketdisk.nbd;

import static io.bucketdisk.nbd.wire.NbdConstants.*;

import io.bucketdisk.nbd.wire.OptionCodec;
import io.bucketdisk.nbd.wire.RequestDecoder;
import io.bucketdisk.nbd.wire.RequestHeader;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A raw NBD client for tests: writes exact bytes, reads exact replies, never hides a protocol detail. */
public final class RawClient implements AutoCloseable {
  public final SocketChannel channel;
  public int handshakeFlags;
  public boolean extended;
  public boolean structured;

  public RawClient(SocketAddress address) throws IOException {
    channel =
        address instanceof UnixDomainSocketAddress
            ? SocketChannel.open(StandardProtocolFamily.UNIX)
            : SocketChannel.open();
    channel.connect(address);
    if (address instanceof InetSocketAddress) {
      channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
    }
  }

  /** Reads the 18-byte greeting and returns it. */
  public ByteBuffer greeting() throws IOException {
    var g = read(18);
    handshakeFlags = g.getShort(16) & 0xffff;
    return g;
  }

  /** Greeting plus client flags FIXED_NEWSTYLE|NO_ZEROES. */
  public RawClient start() throws IOException {
    greeting();
    clientFlags(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES);
    return this;
  }

  public void clientFlags(int flags) throws IOException {
    write(ByteBuffer.allocate(4).putInt(flags).flip());
  }

  public void option(int option, ByteBuffer data) throws IOException {
    var h = ByteBuffer.allocate(16).putLong(IHAVEOPT).putInt(option).putInt(data.remaining()).flip();
    write(h, data);
  }

  public void option(int option) throws IOException {
    option(option, ByteBuffer.allocate(0));
  }

  /** One option reply. */
  public record OptionReply(int option, int type, ByteBuffer data) {
    public String text() {
      return StandardCharsets.UTF_8.decode(data.duplicate()).toString();
    }
  }

  public OptionReply optionReply() throws IOException {
    var h = read(20);
    long magic = h.getLong();
    if (magic != OPTION_REPLY_MAGIC) {
      throw new IOException("bad option reply magic " + Long.toHexString(magic));
    }
    int option = h.getInt();
    int type = h.getInt();
    int len = h.getInt();
    return new OptionReply(option, type, read(len));
  }

  /** Replies to one option up to and including the final one (ACK or an error). */
  public List<OptionReply> optionReplies() throws IOException {
    var out = new ArrayList<OptionReply>();
    while (true) {
      var r = optionReply();
      out.add(r);
      if (r.type() == REP_ACK || r.type() < 0) {
        return out;
      }
    }
  }

  public List<OptionReply> go(String name, int... infos) throws IOException {
    option(OPT_GO, OptionCodec.encodeExportRequest(name, infos));
    return optionReplies();
  }

  /** Full handshake with GO; optionally structured replies and one meta context. */
  public RawClient open(String name, boolean structuredReplies, String... contexts) throws IOException {
    start();
    if (structuredReplies) {
      option(OPT_STRUCTURED_REPLY);
      expect(optionReply().type(), REP_ACK);
      structured = true;
    }
    if (contexts.length > 0) {
      option(OPT_SET_META_CONTEXT, OptionCodec.encodeMetaContextRequest(name, List.of(contexts)));
      optionReplies();
    }
    var replies = go(name);
    expect(replies.getLast().type(), REP_ACK);
    return this;
  }

  /** Full handshake with extended headers, SET_META_CONTEXT of {@code contexts}, GO. */
  public RawClient openExtended(String name, String... contexts) throws IOException {
    start();
    option(OPT_EXTENDED_HEADERS);
    expect(optionReply().type(), REP_ACK);
    extended = true;
    structured = true;
    if (contexts.length > 0) {
      option(OPT_SET_META_CONTEXT, OptionCodec.encodeMetaContextRequest(name, List.of(contexts)));
      optionReplies();
    }
    expect(go(name).getLast().type(), REP_ACK);
    return this;
  }

  private static void expect(int got, int want) throws IOException {
    if (got != want) {
      throw new IOException("expected reply type " + want + ", got 0x" + Integer.toHexString(got));
    }
  }

  public void request(int flags, int type, long cookie, long offset, long length, ByteBuffer payload)
      throws IOException {
    var h = ByteBuffer.allocate(32);
    RequestDecoder.encode(h, new RequestHeader(flags, type, cookie, offset, length, extended));
    write(h.flip(), payload);
  }

  public void request(int flags, int type, long cookie, long offset, long length) throws IOException {
    request(flags, type, cookie, offset, length, ByteBuffer.allocate(0));
  }

  /** A simple reply: error and cookie (data, if any, is left for the caller to read). */
  public record Simple(int error, long cookie) {}

  public Simple simple() throws IOException {
    var h = read(16);
    int magic = h.getInt();
    if (magic != SIMPLE_REPLY_MAGIC) {
      throw new IOException("expected a simple reply, got magic " + Integer.toHexString(magic));
    }
    return new Simple(h.getInt(), h.getLong());
  }

  /** One structured or extended chunk. */
  public record Chunk(int magic, int flags, int type, long cookie, long offset, ByteBuffer payload) {
    public boolean done() {
      return (flags & REPLY_FLAG_DONE) != 0;
    }

    public int error() {
      return payload.getInt(0);
    }
  }

  public Chunk chunk() throws IOException {
    return chunkAfter(read(4).getInt());
  }

  private Chunk chunkAfter(int magic) throws IOException {
    if (magic == STRUCTURED_REPLY_MAGIC) {
      var h = read(16);
      int flags = h.getShort() & 0xffff;
      int type = h.getShort() & 0xffff;
      long cookie = h.getLong();
      int len = h.getInt();
      return new Chunk(magic, flags, type, cookie, -1, read(len));
    }
    if (magic == EXTENDED_REPLY_MAGIC) {
      var h = read(28);
      int flags = h.getShort() & 0xffff;
      int type = h.getShort() & 0xffff;
      long cookie = h.getLong();
      long offset = h.getLong();
      long len = h.getLong();
      return new Chunk(magic, flags, type, cookie, offset, read((int) len));
    }
    throw new IOException("expected a chunk, got magic " + Integer.toHexString(magic));
  }

  /** The error of the next reply, simple or chunked (0 for success); reads and drops READ data. */
  public int status(long length) throws IOException {
    while (true) {
      var m = read(4);
      int magic = m.getInt(0);
      if (magic == SIMPLE_REPLY_MAGIC) {
        var h = read(12);
        int error = h.getInt();
        if (error == 0 && length > 0) {
          read((int) length);
        }
        return error;
      }
      var c = chunkAfter(magic);
      if (c.type() == REPLY_TYPE_ERROR || c.type() == REPLY_TYPE_ERROR_OFFSET) {
        return c.error();
      }
      if (c.done()) {
        return 0;
      }
    }
  }

  public ByteBuffer read(int n) throws IOException {
    var b = ByteBuffer.allocate(n);
    while (b.hasRemaining()) {
      if (channel.read(b) < 0) {
        throw new EOFException("server closed after " + b.position() + " of " + n + " bytes");
      }
    }
    return b.flip();
  }

  public void write(ByteBuffer... bufs) throws IOException {
    long left = 0;
    for (var b : bufs) {
      left += b.remaining();
    }
    while (left > 0) {
      left -= channel.write(bufs);
    }
  }

  /** True when the server closes the connection (EOF) within {@code millis}. */
  public boolean closedWithin(long millis) throws IOException {
    var probe = ByteBuffer.allocate(1);
    var socket = channel.socket();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    channel.configureBlocking(false);
    try {
      while (System.nanoTime() < deadline) {
        int n;
        try {
          n = channel.read(probe);
        } catch (IOException e) {
          return true;
        }
        if (n < 0) {
          return true;
        }
        if (n > 0) {
          return false;
        }
        try {
          Thread.sleep(5);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
      return false;
    } finally {
      if (socket == null || channel.isOpen()) {
        channel.configureBlocking(true);
      }
    }
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
