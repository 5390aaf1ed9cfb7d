package io.bucketdisk.nbd.handshake;

import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.tls.Transport;
import java.util.List;

/**
 * The outcome of a successful handshake: the stream to continue on (TLS if STARTTLS happened), the open export
 * handle (owned by whoever takes the session, who must close it), and what was negotiated.
 *
 * @param structured structured replies were negotiated (implied by extended)
 * @param extended extended headers were negotiated: 32-byte requests and replies
 * @param metaContexts the selected metadata contexts; context id {@code i + 1} names {@code metaContexts.get(i)}
 */
public record Session(
    Transport transport,
    Export export,
    ExportInfo info,
    boolean structured,
    boolean extended,
    List<String> metaContexts) {

  public Session {
    metaContexts = List.copyOf(metaContexts);
  }
}
