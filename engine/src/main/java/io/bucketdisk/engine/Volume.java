package io.bucketdisk.engine;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * One open volume: a byte-addressed device of {@link #size()} bytes whose verbs are the NBD commands.
 *
 * <p><b>Contract.</b> Thread safe: every connection of a volume calls the same {@code Volume} concurrently, which is
 * what makes a FLUSH on one connection cover writes completed on the others (NBD multi-conn). Buffers belong to the
 * caller and are not kept after a verb returns. Ranges must lie within {@link #size()}; a range outside it fails
 * with {@link EngineException.Kind#INVALID}.
 *
 * <p><b>Durability</b> (NBD spec "FLUSH", "FUA"). {@link #write}, {@link #trim} and {@link #zero} return once the
 * change is in memory; with {@code fua} they return once it is stored. {@link #flush} returns once every change that
 * returned before it was called is stored. A change that cannot be stored fails the FLUSH or FUA that waits for it
 * with {@link EngineException.Kind#IO} (or {@link EngineException.Kind#FENCED} when another gateway took the
 * volume over) and is kept for the next attempt.
 *
 * <p><b>Errors.</b> Every verb throws {@link EngineException} for the failures a front end must tell apart
 * (closed, read-only, invalid range, fenced); any other {@link IOException} is an I/O failure.
 */
public interface Volume extends AutoCloseable {

  /** The volume's id (or {@code volume@snapshot} for a read-only snapshot). */
  String id();

  /** Size in bytes; may grow while open ({@link #refresh}), never shrinks. */
  long size();

  /** The unit the engine caches and stores in; a power of two. */
  int chunkSize();

  /** True for snapshots and other read-only opens: every change fails with {@link EngineException.Kind#READ_ONLY}. */
  boolean readOnly();

  /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}. */
  void read(long offset, ByteBuffer dst) throws IOException;

  /**
   * Reads as {@link #read} does if every byte is in memory (dirty, cached, or of a chunk with nothing stored) and
   * answers true; otherwise false, {@code dst} as it was. Never waits for the store.
   */
  boolean readIfHeld(long offset, ByteBuffer dst) throws IOException;

  /** Writes {@code src.remaining()} bytes at {@code offset}; with {@code fua}, returns once they are stored. */
  void write(long offset, ByteBuffer src, boolean fua) throws IOException;

  /** Returns once every change that returned before this call is stored. */
  void flush() throws IOException;

  /** Discards the range: it reads as zeros afterwards, and whole chunks lose their store objects. */
  void trim(long offset, long length, boolean fua) throws IOException;

  /**
   * Makes the range read as zeros. Never costs more than writing the range, so a front end may answer FAST_ZERO
   * requests with it.
   */
  void zero(long offset, long length, boolean fua) throws IOException;

  /** Loads the range into memory ahead of reads (advisory: a failed load changes nothing) and waits for it. */
  void cache(long offset, long length) throws IOException;

  /**
   * Describes {@code [offset, offset + length)} in {@code map}: extents in order, the first at {@code offset},
   * neighbours with equal flags merged; stops when {@code sink} declines, or after one extent with {@code one}.
   */
  void blockStatus(ExtentMap map, long offset, long length, boolean one, ExtentSink sink) throws IOException;

  /** Flushes, then records snapshot {@code snapshotId} of this volume in the store. */
  void snapshot(String snapshotId) throws IOException;

  /** Re-reads the volume's size from the store (an expansion made elsewhere). */
  void refresh() throws IOException;

  /** Store requests, bytes and cache hits of this volume so far. */
  VolumeCounters counters();

  /** Bytes of changed data not yet stored. */
  long dirtyBytes();

  /** Chunks with changes not yet stored (data and zeroed). */
  int dirtyChunks();

  /** Age of the oldest change not yet stored, 0 when there is none: the loss window right now. */
  long oldestDirtyAgeNanos();

  /**
   * How long this gateway's lease on the volume stays valid without another renewal, in seconds: 0 once fenced or
   * expired (changes are refused), NaN for a read-only open (no lease).
   */
  double leaseValidSeconds();

  boolean isClosed();

  /**
   * Flushes and releases the volume (its lease, its memory). If that final flush fails the changes not stored are
   * lost; that is logged and thrown. Every verb fails with {@link EngineException.Kind#CLOSED} afterwards.
   */
  @Override
  void close() throws IOException;
}
