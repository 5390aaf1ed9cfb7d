package io.bucketdisk.engine.cache;

import io.bucketdisk.store.ChunkStore;
import io.bucketdisk.store.StoreException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * What the store holds of one volume's chunks outside memory: each chunk object with the extents the {@link LogIndex}
 * says the log holds newer over it. Every read of a chunk that is not in memory goes through here (loads, fragment
 * reads, merges, folds), so a chunk whose logged changes left memory reads the same as before.
 *
 * <p><b>Reads.</b> The index entries are taken first, then the chunk range is read (ranged GET, or zeros when no
 * object), then the logged extents are read from their segments through the volume's {@link SegmentReads}, which
 * turns the waiting reads of one segment, this chunk's and other chunk reads', into few ranged GETs and checks each
 * stored extent against its CRC32C. A mismatch fails the read with EIO. A segment trimmed between taking the entries
 * and reading it was folded into the chunk object first (see {@link LogIndex}), and one dropped after a merge was
 * replaced in the index first ({@link LogMerger}): either way the read starts over.
 *
 * <p>Thread safe.
 */
final class StoredChunks {
  private static final int ATTEMPTS = 5;

  private final ChunkStore store;
  private final LogIndex index;
  private final CacheCounters counters;
  private final SegmentReads segments;
  private final int chunkSize;

  StoredChunks(ChunkStore store, LogIndex index, CacheCounters counters, java.util.concurrent.Semaphore logReadBytes) {
    this.store = store;
    this.index = index;
    this.counters = counters;
    this.segments = new SegmentReads(store, counters, logReadBytes);
    this.chunkSize = store.chunkSize();
  }

  String volumeId() {
    return store.volumeId();
  }

  int chunkSize() {
    return chunkSize;
  }

  long size() {
    return store.size();
  }

  /** Whether chunk {@code i} has bytes anywhere in the store (object or log); else it reads as zeros. */
  boolean isStored(long i) {
    return index.has(i) || store.isStored(i);
  }

  /** Reads all of chunk {@code i} into {@code dst}; false, leaving {@code dst} untouched, when it reads as zeros. */
  boolean read(long i, ByteBuffer dst) throws IOException {
    return readRange(i, 0, dst);
  }

  /** Reads all of chunk {@code i} into {@code dst}, or zeros when it reads as zeros. */
  void readOrZeros(long i, byte[] dst) throws IOException {
    if (!isStored(i) || !read(i, ByteBuffer.wrap(dst, 0, chunkSize))) {
      java.util.Arrays.fill(dst, 0, chunkSize, (byte) 0);
    }
  }

  /**
   * Reads {@code dst.remaining()} bytes at {@code offsetInChunk} of chunk {@code i}; false, leaving {@code dst}
   * untouched, when the chunk reads as zeros. Counts the GETs it makes.
   */
  boolean readRange(long i, int offsetInChunk, ByteBuffer dst) throws IOException {
    int n = dst.remaining();
    for (int attempt = 1; ; attempt++) {
      List<LogIndex.Extent> extents = index.overlapping(i, offsetInChunk, offsetInChunk + n);
      ByteBuffer d = dst.duplicate();
      boolean object;
      try {
        if (covers(extents, n)) {
          object = false; // the log holds every byte of the range: no GET of the object
        } else {
          object = n == chunkSize ? store.read(i, d) : store.readRange(i, offsetInChunk, d);
        }
      } catch (IOException | RuntimeException e) {
        counters.failed();
        throw e;
      }
      if (object) {
        if (n == chunkSize) {
          counters.got(n);
        } else {
          counters.gotRange(n);
        }
      }
      if (extents.isEmpty()) {
        if (object) {
          dst.position(dst.position() + n);
        }
        return object;
      }
      if (!object) {
        Zeros.fill(dst.duplicate(), n);
      }
      try {
        overlay(i, offsetInChunk, extents, dst);
      } catch (StoreException e) {
        if (e.kind() == StoreException.Kind.NOT_FOUND && attempt < ATTEMPTS) {
          continue; // trimmed after its extents were folded, or merged: the object or the index has them now
        }
        counters.failed();
        throw e;
      }
      dst.position(dst.position() + n);
      return true;
    }
  }

  /** Whether the live parts {@code extents} (which do not overlap) cover all {@code n} bytes of the range. */
  private static boolean covers(List<LogIndex.Extent> extents, int n) {
    long covered = 0;
    for (LogIndex.Extent e : extents) {
      covered += e.end() - e.start();
    }
    return covered == n;
  }

  /** Copies each extent's live bytes into {@code dst} (whose position is chunk offset {@code base}). */
  private void overlay(long i, int base, List<LogIndex.Extent> extents, ByteBuffer dst) throws IOException {
    List<LogIndex.Extent> stored = new ArrayList<>(extents.size());
    for (LogIndex.Extent e : extents) {
      if (e.zero()) {
        Zeros.fill(dst.duplicate().position(dst.position() + e.start() - base), e.end() - e.start());
      } else {
        stored.add(e);
      }
    }
    segments.read(i, base, stored, dst);
  }
}
