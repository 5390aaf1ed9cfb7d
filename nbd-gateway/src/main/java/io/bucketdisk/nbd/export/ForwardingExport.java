package io.bucketdisk.nbd.export;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * An {@link Export} that passes every verb to another one: the base for layers (like an nbdkit filter) that
 * change a few verbs. Thread safe if the delegate is. {@link #close()} closes the delegate.
 */
public abstract class ForwardingExport implements Export {
  private final Export delegate;

  protected ForwardingExport(Export delegate) {
    this.delegate = delegate;
  }

  /** The export this one forwards to. */
  protected final Export delegate() {
    return delegate;
  }

  @Override
  public String name() {
    return delegate.name();
  }

  @Override
  public String description() {
    return delegate.description();
  }

  @Override
  public long size() {
    return delegate.size();
  }

  @Override
  public Capabilities capabilities() {
    return delegate.capabilities();
  }

  @Override
  public void read(long offset, ByteBuffer dst, int flags) throws IOException {
    delegate.read(offset, dst, flags);
  }

  /**
   * Not forwarded: answers false, so a subclass that changes {@link #read} is never bypassed. A layer whose
   * {@code read} adds nothing that {@code readIfHeld} would skip forwards it itself.
   */
  @Override
  public boolean readIfHeld(long offset, ByteBuffer dst, int flags) throws IOException {
    return false;
  }

  @Override
  public void write(long offset, ByteBuffer src, int flags) throws IOException {
    delegate.write(offset, src, flags);
  }

  @Override
  public void flush(int flags) throws IOException {
    delegate.flush(flags);
  }

  @Override
  public void trim(long offset, long length, int flags) throws IOException {
    delegate.trim(offset, length, flags);
  }

  @Override
  public void zero(long offset, long length, int flags) throws IOException {
    delegate.zero(offset, length, flags);
  }

  @Override
  public void cache(long offset, long length, int flags) throws IOException {
    delegate.cache(offset, length, flags);
  }

  @Override
  public void blockStatus(String context, long offset, long length, int flags, ExtentSink sink)
      throws IOException {
    delegate.blockStatus(context, offset, length, flags, sink);
  }

  @Override
  public void close() throws IOException {
    delegate.close();
  }
}
