package io.bucketdisk.nbd.interop;

import io.bucketdisk.nbd.export.ForwardingExportProvider;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ExportProvider;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/** Counts successful opens of {@code demo} (one per GO/EXPORT_NAME, plus INFO and meta-context probes). */
final class CountingProvider extends ForwardingExportProvider {
  private final AtomicInteger opens = new AtomicInteger();

  CountingProvider(ExportProvider delegate) {
    super(delegate);
  }

  int opens() {
    return opens.get();
  }

  @Override
  public Optional<Export> open(String name) throws IOException {
    var e = delegate().open(name);
    if (e.isPresent()) {
      opens.incrementAndGet();
    }
    return e;
  }
}
