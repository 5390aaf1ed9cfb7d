package io.bucketdisk.nbd.access;

import java.io.IOException;
import java.util.Optional;

/**
 * Whether an authenticated peer may list and open an export. Asked by the handshake for every export name a
 * connection with a verified client certificate names (LIST filters by it; INFO, GO, EXPORT_NAME and
 * LIST/SET_META_CONTEXT refuse with NBD_REP_ERR_POLICY). Thread safe; may do I/O (a manifest read).
 */
@FunctionalInterface
public interface ExportAccess {

  /** Every peer may open every export (a server without client certificates, and the tests). */
  ExportAccess ALL = (peer, export) -> Optional.empty();

  /**
   * Why {@code peer} (the name in its certificate) may not open {@code export}, or empty when it may.
   *
   * @throws IOException when the rule cannot be checked now (the store does not answer); the export is refused
   */
  Optional<String> refusal(String peer, String export) throws IOException;
}
