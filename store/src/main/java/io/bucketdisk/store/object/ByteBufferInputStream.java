package io.bucketdisk.store.object;

import java.io.InputStream;
import java.nio.ByteBuffer;

/**
 * Streams the remaining bytes of some buffers, one after the other, without copying them first (a PUT body). It
 * moves the positions of the buffers it is given: pass duplicates. Not thread safe.
 */
final class ByteBufferInputStream extends InputStream {
  private final ByteBuffer[] bufs;
  private int current;

  ByteBufferInputStream(ByteBuffer... bufs) {
    this.bufs = bufs;
  }

  /** A stream of duplicates of {@code data}: their positions stay where they are. */
  static ByteBufferInputStream of(ByteBuffer[] data) {
    return new ByteBufferInputStream(ByteBuffers.duplicates(data));
  }

  private ByteBuffer next() {
    while (current < bufs.length && !bufs[current].hasRemaining()) {
      current++;
    }
    return current < bufs.length ? bufs[current] : null;
  }

  @Override
  public int read() {
    ByteBuffer b = next();
    return b == null ? -1 : b.get() & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) {
    if (len == 0) {
      return 0;
    }
    int n = 0;
    ByteBuffer buf;
    while (n < len && (buf = next()) != null) {
      int k = Math.min(len - n, buf.remaining());
      buf.get(b, off + n, k);
      n += k;
    }
    return n == 0 ? -1 : n;
  }

  @Override
  public int available() {
    long n = 0;
    for (int i = current; i < bufs.length; i++) {
      n += bufs[i].remaining();
    }
    return (int) Math.min(Integer.MAX_VALUE, n);
  }
}
