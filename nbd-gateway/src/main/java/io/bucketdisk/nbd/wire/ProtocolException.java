package io.bucketdisk.nbd.wire;

import java.io.IOException;

/**
 * The peer violated a MUST of the protocol in a way that loses framing (bad magic, impossible length): the only
 * safe answer is a hard disconnect.
 */
public final class ProtocolException extends IOException {
  private static final long serialVersionUID = 1L;

  public ProtocolException(String message) {
    super(message);
  }
}
