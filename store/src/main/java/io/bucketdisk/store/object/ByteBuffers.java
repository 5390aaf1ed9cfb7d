package io.bucketdisk.store.object;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;

/** Arithmetic over lists of buffers for the scattering reads and gathering writes of {@link ObjectStore}. */
final class ByteBuffers {
  private ByteBuffers() {}

  /** The remaining bytes of all of {@code buffers}. */
  static long remaining(ByteBuffer[] buffers) {
    long n = 0;
    for (ByteBuffer b : buffers) {
      n += b.remaining();
    }
    return n;
  }

  /** Duplicates of {@code buffers}: moving their positions leaves the originals' where they are. */
  static ByteBuffer[] duplicates(ByteBuffer[] buffers) {
    ByteBuffer[] copies = new ByteBuffer[buffers.length];
    for (int i = 0; i < buffers.length; i++) {
      copies[i] = buffers[i].duplicate();
    }
    return copies;
  }

  /** The positions of {@code buffers}, for {@link #reposition} before a retry refills them. */
  static int[] positions(ByteBuffer[] buffers) {
    int[] at = new int[buffers.length];
    for (int i = 0; i < buffers.length; i++) {
      at[i] = buffers[i].position();
    }
    return at;
  }

  /** Moves each of {@code buffers} back to its position in {@code at} (from {@link #positions}). */
  static void reposition(ByteBuffer[] buffers, int[] at) {
    for (int i = 0; i < buffers.length; i++) {
      buffers[i].position(at[i]);
    }
  }

  /** The remaining bytes of {@code buffers} in one new buffer (flipped); their positions do not move. */
  static ByteBuffer gather(ByteBuffer[] buffers) {
    ByteBuffer all = ByteBuffer.allocate(Math.toIntExact(remaining(buffers)));
    for (ByteBuffer b : buffers) {
      all.put(b.duplicate());
    }
    return all.flip();
  }

  /** Copies {@code src}'s remaining bytes into {@code dsts}, filling each in turn. */
  static void scatter(ByteBuffer src, ByteBuffer[] dsts) {
    for (ByteBuffer d : dsts) {
      int n = Math.min(d.remaining(), src.remaining());
      d.put(src.slice(src.position(), n));
      src.position(src.position() + n);
    }
  }

  /** Whether {@code stored} holds exactly the remaining bytes of {@code data}, one buffer after the other. */
  static boolean sameBytes(byte[] stored, ByteBuffer[] data) {
    if (stored.length != remaining(data)) {
      return false;
    }
    int at = 0;
    for (ByteBuffer b : data) {
      int n = b.remaining();
      if (!ByteBuffer.wrap(stored, at, n).equals(b)) {
        return false;
      }
      at += n;
    }
    return true;
  }

  /** Reads from {@code in} into {@code dst} until it is full or the stream ends; returns the bytes read. */
  static int readFully(InputStream in, ByteBuffer dst) throws IOException {
    int n = 0;
    if (dst.hasArray()) {
      byte[] a = dst.array();
      int base = dst.arrayOffset();
      while (dst.hasRemaining()) {
        int r = in.read(a, base + dst.position(), dst.remaining());
        if (r < 0) {
          break;
        }
        dst.position(dst.position() + r);
        n += r;
      }
      return n;
    }
    byte[] tmp = new byte[Math.min(64 * 1024, dst.remaining())];
    while (dst.hasRemaining()) {
      int r = in.read(tmp, 0, Math.min(tmp.length, dst.remaining()));
      if (r < 0) {
        break;
      }
      dst.put(tmp, 0, r);
      n += r;
    }
    return n;
  }
}
