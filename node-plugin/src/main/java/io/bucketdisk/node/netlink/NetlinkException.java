package io.bucketdisk.node.netlink;

import java.io.IOException;

/**
 * The kernel refused a netlink request, or the {@code nbd} family is unavailable. {@link #errno()} is the
 * positive error number (e.g. 2 ENOENT: no {@code nbd} family, i.e. the module is not loaded; 1 EPERM: not
 * CAP_SYS_ADMIN; 16 EBUSY; 22 EINVAL). The message says what was asked and, where known, what to do.
 */
public final class NetlinkException extends IOException {
  private static final long serialVersionUID = 1L;
  private final int errno;

  public NetlinkException(String message, int errno) {
    super(message);
    this.errno = errno;
  }

  public NetlinkException(String message, int errno, Throwable cause) {
    super(message, cause);
    this.errno = errno;
  }

  public int errno() {
    return errno;
  }
}
