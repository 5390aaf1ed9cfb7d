package io.bucketdisk.nbd.export;

import io.bucketdisk.engine.ExtentMap;
import io.bucketdisk.engine.Volume;
import io.bucketdisk.engine.volume.VolumeHandle;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * One NBD client's handle on an engine {@link Volume}: the NBD flags and metadata contexts translated to the engine's
 * verbs, nothing more. Several handles (connections) share one volume, so a FLUSH on any of them covers writes
 * completed on all of them ({@code canMultiConn}).
 *
 * <p><b>Verbs.</b> {@code write}/{@code trim}/{@code zero} with {@link #FUA} return once their change is stored.
 * NO_HOLE (WRITE_ZEROES without {@link #MAY_TRIM}) is treated like MAY_TRIM: an object store has nothing to
 * provision, a later write never fails for lack of space, and an all-zero chunk is never stored, so a "provisioned
 * zero chunk" is exactly an absent one. FAST_ZERO never fails with ENOTSUP: the engine's zero is at most as costly
 * as writing the range.
 *
 * <p><b>Metadata contexts.</b> {@code base:allocation} is the engine's {@link ExtentMap#ALLOCATION} (its HOLE and
 * ZERO flags are the NBD spec's values); {@link #DIRTY_CONTEXT} is {@link ExtentMap#DIRTY}: flag {@link #DIRTY} on
 * ranges with changes not yet stored; {@link #DEPTH_CONTEXT} is {@link ExtentMap#DEPTH}: the flags value is the
 * layer depth (0 reads as zeros, 1 this volume, 2 its parent).
 *
 * <p>Thread safe. The engine's failures reach {@code NbdErrors} as they are; after {@link #close()} every verb
 * fails with ESHUTDOWN.
 */
public final class VolumeExport implements Export {
  /** Our metadata context: which ranges are not yet durable in the store. */
  public static final String DIRTY_CONTEXT = "bucketdisk:dirty";
  /** Our metadata context: the clone layer a range comes from, like {@code qemu:allocation-depth}. */
  public static final String DEPTH_CONTEXT = "bucketdisk:allocation-depth";
  /** {@link #DIRTY_CONTEXT} flag: the range has acknowledged changes not yet stored. */
  public static final int DIRTY = ExtentMap.DIRTY_FLAG;
  static final int MAX_PAYLOAD = 32 << 20;

  static {
    if (ExtentMap.HOLE != Capabilities.HOLE || ExtentMap.ZERO != Capabilities.ZERO) {
      throw new AssertionError("the engine's allocation flags must be NBD's base:allocation values");
    }
  }

  private final VolumeHandle handle;
  private final Volume volume;
  private final String name;
  private final String description;
  private final Capabilities capabilities;

  VolumeExport(VolumeHandle handle, String name, String description) {
    this.handle = handle;
    this.volume = handle.volume();
    this.name = name;
    this.description = description;
    this.capabilities = capabilitiesOf(volume.readOnly());
  }

  static Capabilities capabilitiesOf(boolean readOnly) {
    boolean rw = !readOnly;
    return new Capabilities(readOnly, true, rw, rw, rw, rw, true, true,
        List.of(Capabilities.BASE_ALLOCATION, DIRTY_CONTEXT, DEPTH_CONTEXT), 1, 4096, MAX_PAYLOAD);
  }

  /** The engine volume behind this handle. */
  public Volume volume() {
    return volume;
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
    return volume.size();
  }

  @Override
  public Capabilities capabilities() {
    return capabilities;
  }

  @Override
  public void read(long offset, ByteBuffer dst, int flags) throws IOException {
    checkOpen();
    volume.read(offset, dst);
  }

  @Override
  public boolean readIfHeld(long offset, ByteBuffer dst, int flags) throws IOException {
    checkOpen();
    return volume.readIfHeld(offset, dst);
  }

  @Override
  public void write(long offset, ByteBuffer src, int flags) throws IOException {
    checkOpen();
    volume.write(offset, src, (flags & FUA) != 0);
  }

  @Override
  public void flush(int flags) throws IOException {
    checkOpen();
    volume.flush();
  }

  @Override
  public void trim(long offset, long length, int flags) throws IOException {
    checkOpen();
    volume.trim(offset, length, (flags & FUA) != 0);
  }

  @Override
  public void zero(long offset, long length, int flags) throws IOException {
    checkOpen();
    volume.zero(offset, length, (flags & FUA) != 0);
  }

  @Override
  public void cache(long offset, long length, int flags) throws IOException {
    checkOpen();
    volume.cache(offset, length);
  }

  @Override
  public void blockStatus(String context, long offset, long length, int flags, ExtentSink sink) throws IOException {
    checkOpen();
    ExtentMap map = switch (context) {
      case Capabilities.BASE_ALLOCATION -> ExtentMap.ALLOCATION;
      case DIRTY_CONTEXT -> ExtentMap.DIRTY;
      case DEPTH_CONTEXT -> ExtentMap.DEPTH;
      default -> throw new ExportException(NbdError.EINVAL, "unknown metadata context " + context);
    };
    volume.blockStatus(map, offset, length, (flags & REQ_ONE) != 0, sink::extent);
  }

  @Override
  public void close() {
    handle.close();
  }

  private void checkOpen() throws ExportException {
    if (handle.isClosed()) {
      throw new ExportException(NbdError.ESHUTDOWN, "export " + name + " is closed");
    }
  }
}
