package io.bucketdisk.nbd.export;

import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * An {@link ExportProvider} that passes every call to another one: the base for layers that wrap the exports they
 * open (metering, tests that watch the verbs). Thread safe if the delegate is. {@link #close()} closes the delegate.
 */
public abstract class ForwardingExportProvider implements ExportProvider {
  private final ExportProvider delegate;

  protected ForwardingExportProvider(ExportProvider delegate) {
    this.delegate = delegate;
  }

  /** The provider this one forwards to. */
  public final ExportProvider delegate() {
    return delegate;
  }

  @Override
  public List<Listing> list() throws IOException {
    return delegate.list();
  }

  @Override
  public Optional<Export> open(String name) throws IOException {
    return delegate.open(name);
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
