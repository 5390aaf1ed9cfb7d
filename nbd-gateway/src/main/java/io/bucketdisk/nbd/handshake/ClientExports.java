package io.bucketdisk.nbd.handshake;

import static io.bucketdisk.nbd.wire.NbdConstants.optionName;

import io.bucketdisk.nbd.access.ExportAccess;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ExportProvider;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The exports as one client may see them: names resolved (the empty name is the default export), listed and
 * opened through the {@link ExportProvider}, and, for a connection speaking for a node (a verified client
 * certificate, see {@link ClientChannel#node}), checked against {@link ExportAccess}. Each refusal is logged with
 * the node and its address.
 *
 * <p>Not thread safe: one per connection, used by the thread running the handshake. An opened export belongs to
 * the caller, who must close it. Throws the provider's {@link IOException}.
 */
final class ClientExports {
  private static final Logger log = LoggerFactory.getLogger(ClientExports.class);

  private final ExportProvider provider;
  private final ExportAccess access;
  private final ClientChannel client;

  ClientExports(ExportProvider provider, ExportAccess access, ClientChannel client) {
    this.provider = provider;
    this.access = access;
    this.client = client;
  }

  /** Every export the provider offers, before {@link #refusal} filters them. */
  List<ExportProvider.Listing> list() throws IOException {
    return provider.list();
  }

  /** The export {@code name} opened, or empty when there is none. */
  Optional<Export> open(String name) throws IOException {
    String resolved = canonical(name);
    return resolved == null ? Optional.empty() : provider.open(resolved);
  }

  /** The name {@code name} stands for: itself, or the default export's for the empty name (null when none). */
  @Nullable String canonical(String name) throws IOException {
    return name.isEmpty() ? provider.defaultExport().orElse(null) : name;
  }

  /**
   * Why this connection may not use export {@code name}, or empty when it may: only a connection speaking for a node
   * (a verified client certificate) is asked about; a rule that cannot be checked now refuses.
   */
  Optional<String> refusal(String name) {
    String peer = client.node();
    if (peer == null) {
      return Optional.empty();
    }
    try {
      String resolved = canonical(name);
      return access.refusal(peer, resolved == null ? name : resolved);
    } catch (IOException e) {
      return Optional.of("cannot check whether node " + peer + " may open '" + name + "': " + e.getMessage());
    }
  }

  /** {@link #refusal}, logged with the node and its address when it refuses. */
  Optional<String> refused(int option, String name) {
    Optional<String> why = refusal(name);
    why.ifPresent(reason -> log.warn("refused {} '{}' to node {} from {}: {}", optionName(option), name,
        client.node(), client.address(), reason));
    return why;
  }
}
