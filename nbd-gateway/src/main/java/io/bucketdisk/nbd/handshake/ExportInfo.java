package io.bucketdisk.nbd.handshake;

import io.bucketdisk.nbd.export.Capabilities;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.wire.NbdConstants;

/**
 * What a client learns about an export in NBD_INFO_EXPORT, NBD_INFO_BLOCK_SIZE and the EXPORT_NAME reply. The
 * transmission flags are derived from {@link Capabilities} only ("Transmission flags": a server MUST NOT
 * advertise what it does not support); ROTATIONAL is always clear and DF needs structured replies.
 *
 * @param transmissionFlags the u16 NBD transmission flags
 */
public record ExportInfo(
    String name,
    String description,
    long size,
    int transmissionFlags,
    int minimumBlockSize,
    int preferredBlockSize,
    int maximumPayload) {

  /** The info for {@code export} on a connection that has ({@code structured}) or has not negotiated structured replies. */
  public static ExportInfo of(Export export, boolean structured) {
    Capabilities caps = export.capabilities();
    return new ExportInfo(
        export.name(),
        export.description(),
        export.size(),
        transmissionFlags(caps, structured),
        caps.minimumBlockSize(),
        caps.preferredBlockSize(),
        caps.maximumPayload());
  }

  /** The transmission flags for {@code caps}. */
  public static int transmissionFlags(Capabilities caps, boolean structured) {
    int flags = NbdConstants.FLAG_HAS_FLAGS;
    if (caps.readOnly()) {
      flags |= NbdConstants.FLAG_READ_ONLY;
    }
    if (caps.canFlush()) {
      flags |= NbdConstants.FLAG_SEND_FLUSH;
    }
    if (caps.canFua()) {
      flags |= NbdConstants.FLAG_SEND_FUA;
    }
    if (caps.canTrim() && !caps.readOnly()) {
      flags |= NbdConstants.FLAG_SEND_TRIM;
    }
    if (caps.canZero() && !caps.readOnly()) {
      flags |= NbdConstants.FLAG_SEND_WRITE_ZEROES;
      if (caps.canFastZero()) {
        flags |= NbdConstants.FLAG_SEND_FAST_ZERO;
      }
    }
    if (structured) {
      flags |= NbdConstants.FLAG_SEND_DF;
    }
    if (caps.canMultiConn()) {
      flags |= NbdConstants.FLAG_CAN_MULTI_CONN;
    }
    if (caps.canCache()) {
      flags |= NbdConstants.FLAG_SEND_CACHE;
    }
    return flags;
  }
}
