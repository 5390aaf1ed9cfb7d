package io.bucketdisk.nbd.export;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Serves a fixed set of {@link MemoryExport}s by name; every {@link #open} returns a handle on the same shared
 * export (so multi-conn clients see one device). Thread safe. The first export is the default one.
 */
public final class MemoryExportProvider implements ExportProvider {
  private final Map<String, MemoryExport> exports = new LinkedHashMap<>();
  private volatile boolean closed;

  public MemoryExportProvider(MemoryExport... exports) {
    for (MemoryExport e : exports) {
      this.exports.put(e.name(), e);
    }
  }

  /** One writable export. */
  public static MemoryExportProvider of(String name, String description, long size) {
    return new MemoryExportProvider(new MemoryExport(name, description, size));
  }

  /** The shared export behind {@code name}, if any (for tests). */
  public Optional<MemoryExport> export(String name) {
    return Optional.ofNullable(exports.get(name));
  }

  @Override
  public List<Listing> list() {
    var out = new ArrayList<Listing>();
    exports.values().forEach(e -> out.add(new Listing(e.name(), e.description())));
    return out;
  }

  @Override
  public Optional<Export> open(String name) throws IOException {
    if (closed) {
      throw new ExportException(NbdError.ESHUTDOWN, "provider is closed");
    }
    MemoryExport e = exports.get(name);
    return e == null ? Optional.empty() : Optional.of(new Handle(e));
  }

  @Override
  public Optional<String> defaultExport() {
    return exports.keySet().stream().findFirst();
  }

  @Override
  public void close() {
    closed = true;
    exports.values().forEach(MemoryExport::close);
  }

  /** A handle whose close leaves the shared export open. */
  private static final class Handle extends ForwardingExport {
    Handle(Export delegate) {
      super(delegate);
    }

    @Override
    public boolean readIfHeld(long offset, ByteBuffer dst, int flags) throws IOException {
      return delegate().readIfHeld(offset, dst, flags);
    }

    @Override
    public void close() {}
  }
}
