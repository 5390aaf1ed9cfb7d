package io.bucketdisk.nbd.cache;

import io.bucketdisk.nbd.export.Capabilities;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ExportException;
import io.bucketdisk.nbd.export.NbdError;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One client handle on a volume served from its {@link VolumeCache}. Several handles (connections) share one cache,
 * so a FLUSH on any of them covers writes completed on all of them ({@code canMultiConn}).
 *
 * <p><b>Verbs.</b> {@code write}/{@code trim}/{@code zero} with {@link #FUA} return once their chunks are durable.
 * TRIM and WRITE_ZEROES of whole chunks delete the chunk objects; of partial chunks they write zeros. NO_HOLE
 * (WRITE_ZEROES without {@link #MAY_TRIM}) is treated like MAY_TRIM: an object store has nothing to provision, a
 * later write never fails for lack of space, and an all-zero chunk is never stored, so a "provisioned zero chunk"
 * is exactly an absent one. FAST_ZERO never fails with ENOTSUP: zeroing is at most as costly as writing the range.
 *
 * <p><b>Block status contexts.</b> {@code base:allocation}: chunks with no stored data (or zeroed and not yet
 * deleted) are HOLE|ZERO, everything else 0; answered from the chunk index and cache state, never by reading data.
 * {@code bucketdisk:dirty}: flag {@link #DIRTY} on chunks with changes not yet durable. {@code
 * bucketdisk:allocation-depth}: the flags value is the layer depth (0 reads as zeros, 1 this volume, 2 its parent).
 *
 * <p>Thread safe. After {@link #close()} every verb fails with ESHUTDOWN.
 */
public final class VolumeExport implements Export {
  /** Our metadata context: which ranges are not yet durable in the store. */
  public static final String DIRTY_CONTEXT = "bucketdisk:dirty";
  /** Our metadata context: the clone layer a range comes from, like {@code qemu:allocation-depth}. */
  public static final String DEPTH_CONTEXT = "bucketdisk:allocation-depth";
  /** {@link #DIRTY_CONTEXT} flag: the range has acknowledged changes not yet stored. */
  public static final int DIRTY = 1;
  static final int HOLE = Capabilities.HOLE;
  static final int ZERO = Capabilities.ZERO;
  static final int MAX_PAYLOAD = 32 << 20;

  private final VolumeCache cache;
  private final String name;
  private final String description;
  private final Capabilities capabilities;
  private final Runnable onClose;
  private final AtomicBoolean closed = new AtomicBoolean();

  VolumeExport(VolumeCache cache, String name, String description, Runnable onClose) {
    this.cache = cache;
    this.name = name;
    this.description = description;
    this.onClose = onClose;
    this.capabilities = capabilitiesOf(cache.store().readOnly());
  }

  static Capabilities capabilitiesOf(boolean readOnly) {
    boolean rw = !readOnly;
    return new Capabilities(readOnly, true, rw, rw, rw, rw, true, true,
        List.of(Capabilities.BASE_ALLOCATION, DIRTY_CONTEXT, DEPTH_CONTEXT), 1, 4096, MAX_PAYLOAD);
  }

  /** The shared cache behind this handle. */
  public VolumeCache volume() {
    return cache;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String description() {
    return description;
  }

  @Override
  public long size() {
    return cache.size();
  }

  @Override
  public Capabilities capabilities() {
    return capabilities;
  }

  @Override
  public void read(long offset, ByteBuffer dst, int flags) throws IOException {
    checkOpen();
    cache.read(offset, dst);
  }

  @Override
  public void write(long offset, ByteBuffer src, int flags) throws IOException {
    checkWritable();
    cache.write(offset, src, (flags & FUA) != 0);
  }

  @Override
  public void flush(int flags) throws IOException {
    checkOpen();
    cache.flush();
  }

  @Override
  public void trim(long offset, long length, int flags) throws IOException {
    checkWritable();
    cache.trim(offset, length, (flags & FUA) != 0);
  }

  @Override
  public void zero(long offset, long length, int flags) throws IOException {
    checkWritable();
    cache.zero(offset, length, (flags & FUA) != 0);
  }

  @Override
  public void cache(long offset, long length, int flags) throws IOException {
    checkOpen();
    cache.cache(offset, length);
  }

  @Override
  public void blockStatus(String context, long offset, long length, int flags, ExtentSink sink) throws IOException {
    checkOpen();
    boolean one = (flags & REQ_ONE) != 0;
    VolumeCache.ChunkFlags f = switch (context) {
      case Capabilities.BASE_ALLOCATION -> cache::allocation;
      case DIRTY_CONTEXT -> cache::dirtyState;
      case DEPTH_CONTEXT -> cache::depth;
      default -> throw new ExportException(NbdError.EINVAL, "unknown metadata context " + context);
    };
    cache.extents(offset, length, one, f, sink);
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      onClose.run();
    }
  }

  private void checkOpen() throws ExportException {
    if (closed.get() || cache.isClosed()) {
      throw new ExportException(NbdError.ESHUTDOWN, "export " + name + " is closed");
    }
  }

  private void checkWritable() throws ExportException {
    checkOpen();
    if (capabilities.readOnly()) {
      throw new ExportException(NbdError.EPERM, "export " + name + " is read-only");
    }
  }
}
