package io.bucketdisk.nbd.wire;

/** Option data that does not parse: the option is answered with NBD_REP_ERR_INVALID and the handshake goes on. */
public final class OptionFormatException extends Exception {
  private static final long serialVersionUID = 1L;

  public OptionFormatException(String message) {
    super(message, null, false, false);
  }
}
