package io.bucketdisk.nbd.export;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A sparse in-memory export of 64 KiB pages, for tests and for {@code bucketdisk dev} until the store-backed
 * export lands. Never-written pages take no memory and read as zeros. Thread safe: pages are installed with a
 * compare-and-set; overlapping concurrent writes may interleave, which NBD allows (spec "Ordering").
 *
 * <p><b>Durability.</b> Memory is as durable as this export gets: flush and FUA only clear the
 * {@code bucketdisk:dirty} marks, which record pages changed since the last flush.
 *
 * <p><b>Metadata contexts.</b> {@code base:allocation} (unwritten pages are HOLE|ZERO), {@code bucketdisk:dirty}
 * (flag 1: changed since the last flush) and {@code bucketdisk:allocation-depth} (0 unallocated, 1 allocated
 * in this layer).
 */
public final class MemoryExport implements Export {
  /** Our context: ranges written but not yet made durable by a flush (flag {@link #DIRTY}). */
  public static final String DIRTY_CONTEXT = "bucketdisk:dirty";
  /** Our context: how many layers down the data lives; 0 = nowhere (reads as zeros). */
  public static final String ALLOCATION_DEPTH_CONTEXT = "bucketdisk:allocation-depth";
  /** {@code bucketdisk:dirty} flag. */
  public static final int DIRTY = 1;

  static final int PAGE_SHIFT = 16;
  static final int PAGE = 1 << PAGE_SHIFT;

  private final String name;
  private final String description;
  private final long size;
  private final Capabilities capabilities;
  private final AtomicReferenceArray<byte[]> pages;
  private final AtomicLongArray dirty;
  private volatile boolean closed;

  /** A writable export with every capability. */
  public MemoryExport(String name, String description, long size) {
    this(name, description, size, false);
  }

  /** A writable or read-only export with a minimum block size of 1. */
  public MemoryExport(String name, String description, long size, boolean readOnly) {
    this(name, description, size, readOnly, 1);
  }

  /**
   * An export with a given minimum block size (a power of two up to 64 KiB, advertised in NBD_INFO_BLOCK_SIZE
   * and enforced by the server).
   */
  public MemoryExport(String name, String description, long size, boolean readOnly, int minimumBlockSize) {
    if (size < 0 || (size + PAGE - 1) >> PAGE_SHIFT > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("size " + size + " out of range");
    }
    this.name = name;
    this.description = description;
    this.size = size;
    int n = (int) ((size + PAGE - 1) >> PAGE_SHIFT);
    this.pages = new AtomicReferenceArray<>(n);
    this.dirty = new AtomicLongArray((n + 63) / 64);
    this.capabilities =
        new Capabilities(
            readOnly, true, true, true, true, true, true, true,
            List.of(Capabilities.BASE_ALLOCATION, DIRTY_CONTEXT, ALLOCATION_DEPTH_CONTEXT),
            minimumBlockSize, Math.max(4096, minimumBlockSize), 32 << 20);
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
    return size;
  }

  @Override
  public Capabilities capabilities() {
    return capabilities;
  }

  @Override
  public void read(long offset, ByteBuffer dst, int flags) throws IOException {
    open();
    long pos = offset;
    while (dst.hasRemaining()) {
      int page = (int) (pos >> PAGE_SHIFT);
      int in = (int) (pos & (PAGE - 1));
      int n = Math.min(PAGE - in, dst.remaining());
      byte[] p = pages.get(page);
      if (p == null) {
        zeroFill(dst, n);
      } else {
        dst.put(p, in, n);
      }
      pos += n;
    }
  }

  /** Always held: pages are in memory, and a read of them never waits. */
  @Override
  public boolean readIfHeld(long offset, ByteBuffer dst, int flags) throws IOException {
    read(offset, dst, flags);
    return true;
  }

  private static void zeroFill(ByteBuffer dst, int n) {
    int end = dst.position() + n;
    while (dst.position() < end) {
      int chunk = Math.min(ZEROS.length, end - dst.position());
      dst.put(ZEROS, 0, chunk);
    }
  }

  private static final byte[] ZEROS = new byte[PAGE];

  @Override
  public void write(long offset, ByteBuffer src, int flags) throws IOException {
    open();
    long pos = offset;
    while (src.hasRemaining()) {
      int page = (int) (pos >> PAGE_SHIFT);
      int in = (int) (pos & (PAGE - 1));
      int n = Math.min(PAGE - in, src.remaining());
      src.get(allocate(page), in, n);
      markDirty(page);
      pos += n;
    }
  }

  private byte[] allocate(int page) {
    byte[] p = pages.get(page);
    if (p == null) {
      byte[] fresh = new byte[PAGE];
      p = pages.compareAndExchange(page, null, fresh);
      if (p == null) {
        p = fresh;
      }
    }
    return p;
  }

  @Override
  public void flush(int flags) throws IOException {
    open();
    for (int i = 0; i < dirty.length(); i++) {
      dirty.set(i, 0);
    }
  }

  @Override
  public void trim(long offset, long length, int flags) throws IOException {
    zero(offset, length, MAY_TRIM);
  }

  @Override
  public void zero(long offset, long length, int flags) throws IOException {
    open();
    boolean mayTrim = (flags & MAY_TRIM) != 0;
    long pos = offset;
    long end = offset + length;
    while (pos < end) {
      int page = (int) (pos >> PAGE_SHIFT);
      int in = (int) (pos & (PAGE - 1));
      int n = (int) Math.min(PAGE - in, end - pos);
      if (n == PAGE && mayTrim) {
        if (pages.getAndSet(page, null) != null) {
          markDirty(page);
        }
      } else {
        byte[] p = mayTrim ? pages.get(page) : allocate(page);
        if (p != null) {
          java.util.Arrays.fill(p, in, in + n, (byte) 0);
          markDirty(page);
        }
      }
      pos += n;
    }
  }

  @Override
  public void cache(long offset, long length, int flags) throws IOException {
    open();
  }

  @Override
  public void blockStatus(String context, long offset, long length, int flags, ExtentSink sink)
      throws IOException {
    open();
    long end = Math.min(size, offset + length);
    long pos = offset;
    long runStart = pos;
    int runFlags = -1;
    while (pos < end) {
      int page = (int) (pos >> PAGE_SHIFT);
      int f =
          switch (context) {
            case Capabilities.BASE_ALLOCATION ->
                pages.get(page) == null ? Capabilities.HOLE | Capabilities.ZERO : 0;
            case DIRTY_CONTEXT -> isDirty(page) ? DIRTY : 0;
            case ALLOCATION_DEPTH_CONTEXT -> pages.get(page) == null ? 0 : 1;
            default -> throw new ExportException(NbdError.EINVAL, "unknown context " + context);
          };
      if (f != runFlags && runFlags >= 0) {
        if (!sink.extent(pos - runStart, runFlags)) {
          return;
        }
        runStart = pos;
      }
      runFlags = f;
      pos = Math.min(end, ((long) page + 1) << PAGE_SHIFT);
    }
    if (runFlags >= 0) {
      sink.extent(pos - runStart, runFlags);
    }
  }

  /** Pages holding data (for tests). */
  public int allocatedPages() {
    int n = 0;
    for (int i = 0; i < pages.length(); i++) {
      if (pages.get(i) != null) {
        n++;
      }
    }
    return n;
  }

  private void markDirty(int page) {
    long bit = 1L << (page & 63);
    int word = page >> 6;
    long old;
    do {
      old = dirty.get(word);
    } while ((old & bit) == 0 && !dirty.compareAndSet(word, old, old | bit));
  }

  private boolean isDirty(int page) {
    return (dirty.get(page >> 6) & (1L << (page & 63))) != 0;
  }

  private void open() throws ExportException {
    if (closed) {
      throw new ExportException(NbdError.ESHUTDOWN, "export " + name + " is closed");
    }
  }

  /** Ends this export: every later verb fails with ESHUTDOWN. */
  @Override
  public void close() {
    closed = true;
  }
}
