package io.bucketdisk.engine.cache;

import io.bucketdisk.engine.EngineException;
import io.bucketdisk.store.ChunkStore;
import io.bucketdisk.store.StoreException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the store holds of one volume's chunks outside memory: each chunk object with the extents the {@link LogIndex}
 * says the log holds newer over it. Every read of a chunk that is not in memory goes through here (loads, fragment
 * reads, merges, folds), so a chunk whose logged changes left memory reads the same as before.
 *
 * <p><b>Reads.</b> The index entries are taken first, then the chunk range is read (ranged GET, or zeros when no
 * object), then the logged extents are read from their segments, one ranged GET per segment for this chunk's
 * entries in it (a capture writes one chunk's extents side by side), and each stored extent is checked against its
 * CRC32C. A mismatch fails the read with EIO and a log line naming the volume, segment and chunk. A segment trimmed
 * between taking the entries and reading it was folded into the chunk object first (see {@link LogIndex}), and one
 * dropped after a merge was replaced in the index first ({@link LogMerger}): either way the read starts over.
 *
 * <p>Thread safe; allocates one array per segment read, and reads up to {@link #PARALLEL_SEGMENT_READS} segments of
 * one chunk at once (on virtual threads).
 */
final class StoredChunks {
  private static final Logger log = LoggerFactory.getLogger(StoredChunks.class);
  private static final int ATTEMPTS = 5;
  /**
   * Segments one read of a chunk fetches at once. A chunk written at random over a long log has extents in many of
   * its segments (a sequential read after 10 s of 4 KiB random writes over 512 MiB made about 70 GETs per 4 MiB
   * chunk): read one after the other, a sequential read of such a volume ran at 12-23 MiB/s on s3proxy.
   */
  static final int PARALLEL_SEGMENT_READS = 16;
  /** The largest gap between two extents of a segment that one ranged GET reads through rather than skips. */
  static final int RUN_GAP = 64 << 10;

  private final ChunkStore store;
  private final LogIndex index;
  private final CacheCounters counters;
  private final int chunkSize;

  /** A stored segment by the range it covers (a merged one shares its last number with the original it replaced). */
  record Segment(long first, long last) implements Comparable<Segment> {
    @Override
    public int compareTo(Segment o) {
      return first != o.first ? Long.compare(first, o.first) : Long.compare(last, o.last);
    }
  }

  StoredChunks(ChunkStore store, LogIndex index, CacheCounters counters) {
    this.store = store;
    this.index = index;
    this.counters = counters;
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

  /**
   * Copies each extent's live bytes into {@code dst} (whose position is chunk offset {@code base}). The live parts do
   * not overlap, so the order does not matter: the segments are read {@link #PARALLEL_SEGMENT_READS} at a time.
   */
  private void overlay(long i, int base, List<LogIndex.Extent> extents, ByteBuffer dst) throws IOException {
    Map<Segment, List<LogIndex.Extent>> bySegment = new TreeMap<>();
    for (LogIndex.Extent e : extents) {
      if (e.zero()) {
        Zeros.fill(dst.duplicate().position(dst.position() + e.start() - base), e.end() - e.start());
      } else {
        bySegment.computeIfAbsent(new Segment(e.first(), e.seq()), k -> new ArrayList<>()).add(e);
      }
    }
    List<Map.Entry<Segment, List<LogIndex.Extent>>> reads = new ArrayList<>();
    for (Map.Entry<Segment, List<LogIndex.Extent>> s : bySegment.entrySet()) {
      runs(s.getKey(), s.getValue(), reads);
    }
    if (reads.size() == 1) {
      overlay(i, base, reads.getFirst().getKey(), reads.getFirst().getValue(), dst);
      return;
    }
    AtomicInteger next = new AtomicInteger();
    List<Exception> failures = new CopyOnWriteArrayList<>();
    Runnable worker = () -> {
      int k;
      while (failures.isEmpty() && (k = next.getAndIncrement()) < reads.size()) {
        try {
          overlay(i, base, reads.get(k).getKey(), reads.get(k).getValue(), dst);
        } catch (IOException | RuntimeException e) {
          failures.add(e);
        }
      }
    };
    List<Thread> helpers = new ArrayList<>();
    for (int w = 1; w < Math.min(PARALLEL_SEGMENT_READS, reads.size()); w++) {
      helpers.add(Thread.ofVirtual().name("log-read-" + store.volumeId()).start(worker));
    }
    worker.run();
    try {
      for (Thread t : helpers) {
        t.join();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted reading the log of chunk " + i);
    }
    if (!failures.isEmpty()) {
      // a segment that is gone makes the caller start over: report that one first
      Exception first = failures.stream().filter(f -> f instanceof StoreException se
          && se.kind() == StoreException.Kind.NOT_FOUND).findFirst().orElse(failures.getFirst());
      if (first instanceof IOException io) {
        throw io;
      }
      throw (RuntimeException) first;
    }
  }

  /**
   * Splits {@code extents} of {@code segment} into runs that one ranged GET each reads, adding them to {@code out}:
   * extents at most {@link #RUN_GAP} bytes apart in the segment share a run. One capture writes a chunk's extents side
   * by side, but a merged segment holds the captures of many segments one after the other, so a chunk's extents there
   * may lie megabytes apart (one GET of the whole span took a 1-4 MiB array per segment per chunk read, and a fold
   * beside a sequential read ran out of heap at 128M).
   */
  static void runs(Segment segment, List<LogIndex.Extent> extents,
      List<Map.Entry<Segment, List<LogIndex.Extent>>> out) {
    extents.sort(java.util.Comparator.comparingInt(LogIndex.Extent::segOffset));
    List<LogIndex.Extent> run = new ArrayList<>();
    int end = 0;
    for (LogIndex.Extent e : extents) {
      if (!run.isEmpty() && e.segOffset() - end > RUN_GAP) {
        out.add(Map.entry(segment, run));
        run = new ArrayList<>();
      }
      run.add(e);
      end = Math.max(end, e.segOffset() + e.storedLength()); // past end + RUN_GAP when a run starts
    }
    out.add(Map.entry(segment, run));
  }

  /** Copies the live bytes of {@code extents}, all in {@code segment}, into {@code dst}: one ranged GET. */
  private void overlay(long i, int base, Segment segment, List<LogIndex.Extent> extents, ByteBuffer dst)
      throws IOException {
    int from = Integer.MAX_VALUE;
    int to = 0;
    for (LogIndex.Extent e : extents) {
      from = Math.min(from, e.segOffset());
      to = Math.max(to, e.segOffset() + e.storedLength());
    }
    byte[] span = new byte[to - from];
    store.readLog(segment.first(), segment.last(), from, ByteBuffer.wrap(span));
    counters.gotRange(span.length);
    for (LogIndex.Extent e : extents) {
      int at = e.segOffset() - from;
      CRC32C crc = new CRC32C();
      crc.update(span, at, e.storedLength());
      if ((int) crc.getValue() != e.crc()) {
        log.error("volume {}: log segment {} holds a damaged extent of chunk {} (offset {}, {} bytes): checksum "
            + "mismatch", store.volumeId(), e.seq(), i, e.storedStart(), e.storedLength());
        counters.checksumFailed();
        throw new EngineException(EngineException.Kind.IO, "volume " + store.volumeId() + ": log segment "
            + e.seq() + " extent of chunk " + i + " fails its checksum");
      }
      dst.duplicate().position(dst.position() + e.start() - base)
          .put(span, at + e.start() - e.storedStart(), e.end() - e.start());
    }
  }
}
