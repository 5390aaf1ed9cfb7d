package io.bucketdisk.nbd.export;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * One NBD export: a byte-addressed device of fixed {@link #size()} with the NBD verbs as methods.
 *
 * <p><b>Contract.</b> Implementations are thread safe: the server calls them concurrently from many virtual
 * threads and many connections (multi-conn). Offsets and lengths have been checked by the caller against
 * {@link #size()} and the advertised block sizes before any verb is called, and a verb is only called when the
 * matching {@link Capabilities} flag is set. Buffers belong to the caller; an implementation must not keep a
 * reference after it returns.
 *
 * <p><b>Durability (NBD spec "FLUSH", "FUA").</b> A completed {@link #write} may sit in a volatile cache. A
 * {@link #flush()} returns only when every write, trim and zero that completed before the flush was called (on
 * any connection of this export) is durable. A verb called with {@link #FUA} returns only when its own effect is
 * durable. An implementation that cannot honour this throws rather than returning.
 *
 * <p><b>Errors.</b> Every verb throws {@link ExportException} with the NBD error the client should see, or any
 * other {@link IOException}, which the server reports as {@code EIO}.
 *
 * <p>{@link #close()} releases this handle; for a shared export it does not end the other handles.
 */
public interface Export extends AutoCloseable {

  /** Command flag: make this command's effect durable before it returns (NBD_CMD_FLAG_FUA). */
  int FUA = 1;
  /** Command flag for {@link #zero}: punching a hole is allowed (the client did not send NO_HOLE). */
  int MAY_TRIM = 1 << 1;
  /** Command flag for {@link #zero}: fail fast with ENOTSUP unless zeroing is cheaper than writing. */
  int FAST_ZERO = 1 << 2;
  /** Command flag for {@link #blockStatus}: one extent is enough (NBD_CMD_FLAG_REQ_ONE). */
  int REQ_ONE = 1 << 3;

  /** The export name clients select with NBD_OPT_GO. */
  String name();

  /** Human-readable description for NBD_INFO_DESCRIPTION and NBD_OPT_LIST; may be empty. */
  String description();

  /** Size in bytes. May grow while open (online expansion); never shrinks while open. */
  long size();

  /** What this export supports; fixed for the life of the handle. */
  Capabilities capabilities();

  /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}, advancing its position. */
  void read(long offset, ByteBuffer dst, int flags) throws IOException;

  /**
   * Reads as {@link #read} does if every byte is in memory now, and answers true; otherwise answers false with
   * {@code dst} as it was, and the caller reads with {@link #read}. Never waits for the store or for another
   * request: the server calls it on the thread that reads the connection's requests, so that a cached read costs no
   * thread hand-off. An export that cannot tell answers false (the default).
   */
  default boolean readIfHeld(long offset, ByteBuffer dst, int flags) throws IOException {
    return false;
  }

  /** Writes {@code src.remaining()} bytes at {@code offset}, advancing its position. */
  void write(long offset, ByteBuffer src, int flags) throws IOException;

  /** Makes every write completed before this call durable. */
  void flush(int flags) throws IOException;

  /** Discards {@code length} bytes at {@code offset}; they read back as zeros afterwards. */
  void trim(long offset, long length, int flags) throws IOException;

  /**
   * Makes {@code length} bytes at {@code offset} read as zeros; may punch holes when {@link #MAY_TRIM} is
   * set. With {@link #FAST_ZERO}, throws {@link ExportException} with {@link NbdError#ENOTSUP} instead of
   * doing slow work.
   */
  void zero(long offset, long length, int flags) throws IOException;

  /** Advises that the range will be read soon (NBD_CMD_CACHE); may prefetch, may do nothing. */
  void cache(long offset, long length, int flags) throws IOException;

  /**
   * Describes {@code [offset, offset + length)} in the metadata context {@code context} (one of
   * {@link Capabilities#metaContexts()}), appending extents in order to {@code sink}. The first extent starts at
   * {@code offset}; extents may stop short of {@code offset + length} but must describe at least one byte. With
   * {@link #REQ_ONE} only the first extent is used.
   */
  void blockStatus(String context, long offset, long length, int flags, ExtentSink sink) throws IOException;

  @Override
  void close() throws IOException;

  /** Receives block-status extents in order. */
  @FunctionalInterface
  interface ExtentSink {
    /**
     * Accepts one extent of {@code length} bytes with context-defined {@code flags}; returns false when the
     * sink needs no more.
     */
    boolean extent(long length, int flags);
  }
}
