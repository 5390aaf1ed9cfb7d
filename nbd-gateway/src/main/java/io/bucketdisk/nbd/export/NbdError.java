package io.bucketdisk.nbd.export;

/** The error values an NBD server may send (NBD spec "Error values"), with their wire numbers. */
public enum NbdError {
  EPERM(1),
  EIO(5),
  ENOMEM(12),
  EINVAL(22),
  ENOSPC(28),
  EOVERFLOW(75),
  ENOTSUP(95),
  ESHUTDOWN(108);

  private final int value;

  NbdError(int value) {
    this.value = value;
  }

  /** The 32-bit value sent on the wire. */
  public int value() {
    return value;
  }
}
