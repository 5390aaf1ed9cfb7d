package io.bucketdisk.nbd.handshake;

import static io.bucketdisk.nbd.wire.NbdConstants.*;

import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.wire.OptionCodec;
import io.bucketdisk.nbd.wire.OptionFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT (NBD spec "Metadata querying"), and the selection SET
 * made. A selection is bound to the export it named and applies only if GO (or EXPORT_NAME) opens that one; SET
 * replaces it even when it fails, and STARTTLS forgets it ({@link #forget}).
 *
 * <p>Not thread safe: one per connection, used by the thread running the handshake. Every answer goes to the client
 * as option replies; throws only the {@link IOException} of writing one.
 */
final class MetaContexts {
  private final ClientChannel client;
  private final ClientExports exports;
  private @Nullable String metaExport;
  private List<String> metaContexts = List.of();

  MetaContexts(ClientChannel client, ClientExports exports) {
    this.client = client;
    this.exports = exports;
  }

  /** NBD_OPT_LIST_META_CONTEXT: the contexts the queries match, without selecting them. */
  void list(ByteBuffer data) throws IOException {
    metaContext(data, false, false);
  }

  /** NBD_OPT_SET_META_CONTEXT: selects the contexts the queries name; needs structured replies. */
  void set(ByteBuffer data, boolean structured) throws IOException {
    metaContext(data, true, structured);
  }

  /** Drops the selection (STARTTLS forgets every earlier negotiation). */
  void forget() {
    metaExport = null;
    metaContexts = List.of();
  }

  /**
   * The contexts selected for the export named {@code exportName} (canonical); none when SET named another one.
   * Context id {@code i + 1} names element {@code i}.
   */
  List<String> selectedFor(String exportName) {
    return exportName.equals(metaExport) ? metaContexts : List.of();
  }

  /**
   * Queries are exact context names; LIST also takes namespace wildcards ending in ':' and lists everything when
   * there is no query. Unknown names are ignored.
   */
  private void metaContext(ByteBuffer data, boolean set, boolean structured) throws IOException {
    int option = set ? OPT_SET_META_CONTEXT : OPT_LIST_META_CONTEXT;
    if (set) {
      // SET replaces the previous selection even when it fails.
      forget();
    }
    if (set && !structured) {
      client.reply(option, REP_ERR_INVALID, "SET_META_CONTEXT needs structured replies first");
      return;
    }
    OptionCodec.MetaContextRequest request;
    try {
      request = OptionCodec.decodeMetaContextRequest(data);
    } catch (OptionFormatException e) {
      client.reply(option, REP_ERR_INVALID, e.getMessage());
      return;
    }
    Optional<String> refused = exports.refused(option, request.exportName());
    if (refused.isPresent()) {
      client.reply(option, REP_ERR_POLICY, refused.get());
      return;
    }
    List<String> available;
    try {
      Optional<Export> export = exports.open(request.exportName());
      if (export.isEmpty()) {
        client.reply(option, REP_ERR_UNKNOWN, "no export named '" + request.exportName() + "'");
        return;
      }
      try (Export e = export.get()) {
        available = e.capabilities().metaContexts();
      }
    } catch (IOException e) {
      client.reply(option, REP_ERR_UNKNOWN, "export '" + request.exportName() + "' is not available");
      return;
    }
    var chosen = new LinkedHashSet<String>();
    if (request.queries().isEmpty() && !set) {
      chosen.addAll(available);
    }
    for (String q : request.queries()) {
      for (String name : available) {
        boolean wildcard = !set && q.endsWith(":") && name.startsWith(q);
        if (name.equals(q) || wildcard) {
          chosen.add(name);
        }
      }
    }
    var selected = new ArrayList<String>();
    for (String name : chosen) {
      selected.add(name);
      client.reply(option, REP_META_CONTEXT, OptionCodec.metaContext(set ? selected.size() : 0, name));
    }
    if (set) {
      metaExport = exports.canonical(request.exportName());
      metaContexts = selected;
    }
    client.reply(option, REP_ACK);
  }
}
