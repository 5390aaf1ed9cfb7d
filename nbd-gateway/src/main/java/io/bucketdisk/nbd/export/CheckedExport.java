package io.bucketdisk.nbd.export;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The top of every export chain: asserts at the top of each verb that the range lies inside the export, that
 * the flags are ones the verb takes, and that the capability it needs was advertised, so the layers below can
 * trust their inputs. A violation is an {@link ExportException} with the error the NBD spec recommends (EINVAL,
 * ENOSPC for writes past the end, EPERM on a read-only export). The server validates requests before this
 * layer, so in a correct server these checks never fire; they guard against server bugs and direct callers.
 * Thread safe if the delegate is.
 */
public final class CheckedExport extends ForwardingExport {
  private static final int ZERO_FLAGS = FUA | MAY_TRIM | FAST_ZERO;
  private final Capabilities caps;

  public CheckedExport(Export delegate) {
    super(delegate);
    this.caps = delegate.capabilities();
  }

  @Override
  public void read(long offset, ByteBuffer dst, int flags) throws IOException {
    flags(flags, FUA, "read");
    range(offset, dst.remaining(), NbdError.EINVAL, "read");
    super.read(offset, dst, flags);
  }

  @Override
  public boolean readIfHeld(long offset, ByteBuffer dst, int flags) throws IOException {
    flags(flags, FUA, "read");
    range(offset, dst.remaining(), NbdError.EINVAL, "read");
    return delegate().readIfHeld(offset, dst, flags);
  }

  @Override
  public void write(long offset, ByteBuffer src, int flags) throws IOException {
    writable("write");
    flags(flags, FUA, "write");
    range(offset, src.remaining(), NbdError.ENOSPC, "write");
    super.write(offset, src, flags);
  }

  @Override
  public void flush(int flags) throws IOException {
    need(caps.canFlush(), "flush");
    flags(flags, FUA, "flush");
    super.flush(flags);
  }

  @Override
  public void trim(long offset, long length, int flags) throws IOException {
    writable("trim");
    need(caps.canTrim(), "trim");
    flags(flags, FUA, "trim");
    range(offset, length, NbdError.EINVAL, "trim");
    super.trim(offset, length, flags);
  }

  @Override
  public void zero(long offset, long length, int flags) throws IOException {
    writable("zero");
    need(caps.canZero(), "zero");
    flags(flags, ZERO_FLAGS, "zero");
    if ((flags & FAST_ZERO) != 0) {
      need(caps.canFastZero(), "fast zero");
    }
    range(offset, length, NbdError.ENOSPC, "zero");
    super.zero(offset, length, flags);
  }

  @Override
  public void cache(long offset, long length, int flags) throws IOException {
    need(caps.canCache(), "cache");
    flags(flags, FUA, "cache");
    range(offset, length, NbdError.EINVAL, "cache");
    super.cache(offset, length, flags);
  }

  @Override
  public void blockStatus(String context, long offset, long length, int flags, ExtentSink sink)
      throws IOException {
    if (!caps.metaContexts().contains(context)) {
      throw new ExportException(NbdError.EINVAL, "no metadata context " + context + " on " + name());
    }
    flags(flags, REQ_ONE | FUA, "blockStatus");
    range(offset, length, NbdError.EINVAL, "blockStatus");
    super.blockStatus(context, offset, length, flags, sink);
  }

  private void writable(String verb) throws ExportException {
    if (caps.readOnly()) {
      throw new ExportException(NbdError.EPERM, verb + " on read-only export " + name());
    }
  }

  private void need(boolean capability, String verb) throws ExportException {
    if (!capability) {
      throw new ExportException(NbdError.EINVAL, verb + " is not supported by " + name());
    }
  }

  private void flags(int flags, int allowed, String verb) throws ExportException {
    if ((flags & ~allowed) != 0) {
      throw new ExportException(NbdError.EINVAL, verb + " with flags 0x" + Integer.toHexString(flags));
    }
  }

  private void range(long offset, long length, NbdError pastEnd, String verb) throws ExportException {
    long size = size();
    if (offset < 0 || length < 0 || offset > size || length > size - offset) {
      throw new ExportException(
          pastEnd, verb + " of " + length + " bytes at " + offset + " is outside " + name() + " (" + size + ")");
    }
  }
}
