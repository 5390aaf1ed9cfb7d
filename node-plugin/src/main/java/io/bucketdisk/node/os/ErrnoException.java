package io.bucketdisk.node.os;

import java.io.IOException;

/**
 * A failed system call: the call's name, the {@code errno} it returned and the C library's text for it.
 * Callers decide on {@link #errno()}; the message is for logs and users.
 */
public final class ErrnoException extends IOException {
  private static final long serialVersionUID = 1L;

  /** {@code errno} values the node plugin decides on (Linux x86-64 numbering). */
  public static final int EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, EBADF = 9, EAGAIN = 11, EACCES = 13,
      EBUSY = 16, EINVAL = 22, EPIPE = 32, ECONNRESET = 104, ETIMEDOUT = 110, ECONNREFUSED = 111,
      EINPROGRESS = 115;

  private final int errno;

  public ErrnoException(String call, int errno) {
    super(call + ": " + Libc.strerror(errno) + " (errno " + errno + ")");
    this.errno = errno;
  }

  public int errno() {
    return errno;
  }
}
