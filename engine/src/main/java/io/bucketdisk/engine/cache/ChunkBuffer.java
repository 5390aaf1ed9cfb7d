package io.bucketdisk.engine.cache;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.jspecify.annotations.Nullable;

/**
 * One chunk of one volume held in memory, clean (in the gateway's Caffeine cache) or dirty (pinned in its
 * volume's dirty set). All fields are guarded by this object's monitor; {@link DirtyChunks} documents the
 * transitions and the lock order (dirty-map bin lock, then this monitor; never the other way round), and
 * {@link UploadScheduler} the upload fields.
 *
 * <p>{@code data == null} means the chunk reads as zeros everywhere (a trimmed or zeroed chunk: uploading it is a
 * delete). A dirty buffer's data is sparse pages until written over half ({@link ChunkBytes}); its bytes are
 * meaningful only where {@code valid}. Clean buffers are always whole and fully valid and never change while clean.
 *
 * <p><b>Retiring.</b> A clean buffer that left every tier for good ({@link ChunkCache} evicted it) gives its array
 * back for the next load ({@link #retire}); it is then retired and holds nothing. A reader may still hold a reference
 * taken before the eviction, so every copy out of a clean buffer goes through {@link #copyIfLive}, which counts
 * itself in {@code users} for the copy; retiring succeeds only while nobody copies, and a reader that finds the
 * buffer retired looks again. Retiring takes no monitor: Caffeine's eviction calls it while other threads may hold
 * buffer monitors.
 */
final class ChunkBuffer {
  final long index;
  @Nullable ChunkBytes data;
  final ValidRanges valid;
  /**
   * The ranges changed since the last log capture ({@link WriteLog}); always within {@code valid}. Full after a zero
   * (then a zeroed chunk logs as one zeros extent).
   */
  final ValidRanges unlogged;

  /** Readers copying out of this buffer now via {@link #copyIfLive}; -1 once retired (it never holds data again). */
  private final java.util.concurrent.atomic.AtomicInteger users = new java.util.concurrent.atomic.AtomicInteger();
  /** True while this buffer is the value of its volume's dirty map; a writer that finds it false retries. */
  boolean dirty;
  /** The bytes this dirty buffer holds of the {@link DirtyLimiter}: {@code data.charge()} while dirty, else 0. */
  long charge;
  /** Bumped by every change while dirty. */
  long version;
  /** The highest version known stored (PUT or DELETE acknowledged). */
  long durableVersion;
  /** The highest version whose changes a stored log segment holds: durable too, though not folded. */
  long loggedVersion;
  /**
   * The version of the log capture in flight ({@link WriteLog}, one at a time): above both others from the capture
   * until its segment is stored, and put back when the segment fails.
   */
  long capturedVersion;
  /** System.nanoTime() of the oldest change not yet durable; meaningful while dirty. */
  long dirtySinceNanos;
  /** System.nanoTime() of the latest change. */
  long lastChangeNanos;
  /** The version the upload in flight stores, or -1. */
  long uploadVersion = -1;
  /**
   * System.nanoTime() of the first change after {@code uploadVersion}: once that upload is acknowledged, the oldest
   * change not yet durable.
   */
  long changedSinceUploadNanos;

  boolean uploading;
  boolean queued;
  /** A FLUSH or FUA waits for this chunk: requeue at once if an upload ends before its version is durable. */
  boolean urgent;
  /** Sequence number of the last upload attempt started, and of the last one that failed. */
  long attemptSeq;
  long failedSeq;
  @Nullable IOException failure;
  long retryAfterNanos;

  ChunkBuffer(long index, @Nullable ChunkBytes data, int chunkSize) {
    this.index = index;
    this.data = data;
    this.valid = new ValidRanges(chunkSize);
    this.unlogged = new ValidRanges(chunkSize);
  }

  /** A clean, fully valid buffer over {@code data}. */
  static ChunkBuffer clean(long index, byte[] data) {
    ChunkBuffer b = new ChunkBuffer(index, ChunkBytes.whole(data), data.length);
    b.valid.setFull();
    return b;
  }

  /** Whether this buffer has changes that neither a chunk object nor a log segment holds; caller holds the monitor. */
  boolean atRisk() {
    return Math.max(durableVersion, loggedVersion) < version;
  }

  /** Copies {@code length} bytes at {@code offset} into {@code dst}; zeros when there is no data. */
  synchronized void copyTo(int offset, int length, ByteBuffer dst) {
    ChunkBytes d = data;
    if (d == null) {
      Zeros.fill(dst, length);
    } else {
      d.copyTo(offset, length, dst);
    }
  }

  /** Copies like {@link #copyTo} unless this buffer is retired (its array may be another chunk's now); whether it did. */
  boolean copyIfLive(int offset, int length, ByteBuffer dst) {
    int u;
    do {
      u = users.get();
      if (u < 0) {
        return false;
      }
    } while (!users.compareAndSet(u, u + 1));
    try {
      copyTo(offset, length, dst);
      return true;
    } finally {
      users.decrementAndGet();
    }
  }

  /**
   * Retires this clean buffer, which no tier holds any more (the caller got it from the tier's removal, which
   * publishes its fields): returns its array of {@code size} bytes for reuse, or null, leaving it as it is, when it is
   * dirty, retired, being copied, or holds no whole unfrozen array of that size. Takes no monitor.
   */
  byte @Nullable [] retire(int size) {
    ChunkBytes d = data;
    byte[] array = d == null || dirty ? null : d.wholeUnfrozen();
    if (array == null || array.length != size || !users.compareAndSet(0, -1)) {
      return null;
    }
    data = null;
    return array;
  }

  /** Whether this buffer gave its array away ({@link #retire}). */
  boolean retired() {
    return users.get() < 0;
  }

  /**
   * What block status needs of this buffer, read at once under its monitor: null when it is not dirty (it left the
   * dirty set meanwhile), else whether it reads as zeros, its valid ranges, and the ranges whose changes neither a
   * chunk object nor a stored log segment holds ({@link ValidRanges#toArray} form). Those are the ranges changed
   * since the last log capture, or the whole chunk while a capture's segment is being stored: never less than what
   * is at risk, sometimes more (changes a chunk PUT stored since the capture stay in it).
   */
  synchronized @Nullable Held held() {
    if (!dirty) {
      return null;
    }
    int[] atRisk = !atRisk() ? new int[0]
        : capturedVersion > Math.max(durableVersion, loggedVersion) ? new int[] {0, valid.limit()}
        : unlogged.toArray();
    return new Held(data == null, valid.toArray(), atRisk);
  }

  /** See {@link #held}. */
  record Held(boolean zeroed, int[] valid, int[] atRisk) {}

  /** Copies like {@link #copyTo} if this buffer is dirty and every byte of the range is valid; whether it did. */
  synchronized boolean copyIfDirtyAndValid(int offset, int length, ByteBuffer dst) {
    if (!dirty || !valid.covers(offset, offset + length)) {
      return false;
    }
    copyTo(offset, length, dst);
    return true;
  }

  /**
   * Copies this buffer's valid bytes of {@code [offset, offset + window.remaining())} over {@code window}, whose
   * position is chunk offset {@code offset}; caller holds the monitor.
   */
  void overlayValid(int offset, ByteBuffer window) {
    int end = offset + window.remaining();
    int[] ranges = valid.toArray();
    for (int r = 0; r < ranges.length; r += 2) {
      int from = Math.max(ranges[r], offset);
      int to = Math.min(ranges[r + 1], end);
      if (from < to) {
        copyTo(from, to - from, window.duplicate().position(window.position() + from - offset));
      }
    }
  }

  @Override
  public String toString() {
    return "chunk " + index + (dirty ? " dirty v" + version + "/" + durableVersion + " logged " + loggedVersion : " clean") + " valid " + valid;
  }
}
