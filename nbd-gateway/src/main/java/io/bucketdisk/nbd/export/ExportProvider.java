package io.bucketdisk.nbd.export;

import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * Where the server finds exports by name. Thread safe. Each successful {@link #open} returns a handle the
 * caller must close; several handles for the same name (multi-conn) share one underlying volume and cache, and
 * the volume is released (flushed, then closed) when its last handle closes.
 */
public interface ExportProvider extends AutoCloseable {

  /** A listed export, for NBD_OPT_LIST and NBD_OPT_INFO. */
  record Listing(String name, String description) {}

  /** The exports clients may select, in a stable order. */
  List<Listing> list() throws IOException;

  /** Opens a handle on {@code name}, or empty when there is no such export. */
  Optional<Export> open(String name) throws IOException;

  /** The name used when a client asks for the empty (default) export name; empty when there is no default. */
  Optional<String> defaultExport();

  /** Flushes and releases everything; handles still open afterwards fail with ESHUTDOWN. */
  @Override
  void close() throws IOException;
}
