package io.bucketdisk.engine.cache;

import java.nio.ByteBuffer;
import java.util.Arrays;

/** Zero-filling and zero-testing without per-call garbage. */
final class Zeros {
  private static final byte[] ZEROS = new byte[64 * 1024];

  private Zeros() {}

  /** Puts {@code length} zero bytes into {@code dst}. */
  static void fill(ByteBuffer dst, int length) {
    int left = length;
    while (left > 0) {
      int n = Math.min(left, ZEROS.length);
      dst.put(ZEROS, 0, n);
      left -= n;
    }
  }

  /** True when {@code a[from, to)} is all zero. */
  static boolean isZero(byte[] a, int from, int to) {
    for (int pos = from; pos < to; ) {
      int n = Math.min(to - pos, ZEROS.length);
      if (!Arrays.equals(a, pos, pos + n, ZEROS, 0, n)) {
        return false;
      }
      pos += n;
    }
    return true;
  }

  /** True when the remaining bytes of {@code b} are all zero; does not move its position. */
  static boolean isZero(ByteBuffer b) {
    if (b.hasArray()) {
      return isZero(b.array(), b.arrayOffset() + b.position(), b.arrayOffset() + b.limit());
    }
    for (int i = b.position(); i < b.limit(); i++) {
      if (b.get(i) != 0) {
        return false;
      }
    }
    return true;
  }
}
