package io.bucketdisk.nbd.interop;

import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ExportProvider;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/** Counts successful opens of {@code demo} (one per GO/EXPORT_NAME, plus INFO and meta-context probes). */
final class CountingProvider implements ExportProvider {
  private final ExportProvider delegate;
  private final AtomicInteger opens = new AtomicInteger();

  CountingProvider(ExportProvider delegate) {
    this.delegate = delegate;
  }

  int opens() {
    return opens.get();
  }

  @Override
  public List<Listing> list() throws IOException {
    return delegate.list();
  }

  @Override
  public Optional<Export> open(String name) throws IOException {
    var e = delegate.open(name);
    if (e.isPresent()) {
      opens.incrementAndGet();
    }
    return e;
  }

  @Override
  public Optional<String> defaultExport() {
    return delegate.defaultExport();
  }

  @Override
  public void close() throws IOException {
    delegate.close();
  }
}
