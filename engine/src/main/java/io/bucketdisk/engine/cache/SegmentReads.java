package io.bucketdisk.engine.cache;

import io.bucketdisk.engine.EngineException;
import io.bucketdisk.store.ChunkStore;
import io.bucketdisk.store.StoreException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One volume's reads of logged extents out of stored segments, shared by every chunk read in flight (loads,
 * read-ahead, fragment reads, folds), so that reads of one segment that wait at the same time become one ranged GET.
 *
 * <p><b>Why.</b> A volume written at random has each chunk's extents in many segments, and one segment holds extents
 * of many chunks, a capture's chunks side by side. Read chunk by chunk, a sequential read after 10 s of 4 KiB random
 * writes made about 70 GETs per 4 MiB chunk, and read-ahead loads of the next chunks asked the same segments for the
 * neighbouring bytes at the same time.
 *
 * <p><b>How.</b> {@link #read} queues one want per extent under its segment and waits for all of them. At most
 * {@link #PARALLEL} workers (virtual threads) take a segment with everything queued for it, from any reader, and read
 * it in spans: extents at most {@link #RUN_GAP} apart share a span, up to {@link #MAX_SPAN} bytes (one extent larger
 * than that is a span alone). Each stored extent is checked against its CRC32C before its live part is copied out; a
 * mismatch fails that want with EIO (and a log line naming volume, segment and chunk). A store failure fails every
 * want of its span; a segment gone ({@link StoreException.Kind#NOT_FOUND}) tells the reader to start over (see
 * {@link StoredChunks}). Wants of a reader that already failed are skipped.
 *
 * <p>A reader returns only when no worker writes into its buffer any more, even when interrupted. Thread safe; memory
 * outside the cache budget: the spans being read, at most {@link #BUDGET} bytes gateway-wide (every volume's reads
 * share one {@link ChunkCache#logReadBytes}; a span larger than that waits for all of it).
 */
final class SegmentReads {
  private static final Logger log = LoggerFactory.getLogger(SegmentReads.class);
  /** Segments read at once per volume. */
  static final int PARALLEL = 16;
  /** The largest gap between two extents of a segment that one ranged GET reads through rather than skips. */
  static final int RUN_GAP = 64 << 10;
  /** The most one span holds, unless a single extent is larger. */
  static final int MAX_SPAN = 1 << 20;
  /** Bytes of spans read at once, gateway-wide: as many as one volume's workers read at most. */
  static final int BUDGET = PARALLEL * MAX_SPAN;

  /** A stored segment by the range it covers (a merged one shares its last number with the original it replaced). */
  record Segment(long first, long last) {}

  /** Extent {@code extent} of chunk {@code chunk}, to be copied into {@code dst} (position: chunk offset {@code base}). */
  record Want(long chunk, int base, ByteBuffer dst, LogIndex.Extent extent, Reader reader) {}

  /** One {@link #read}: how many of its wants are still open, and its first failure. */
  static final class Reader {
    private int open;
    private @Nullable Exception failure;

    private synchronized void done(@Nullable Exception e) {
      if (e != null && (failure == null || notFound(e) && !notFound(failure))) {
        failure = e; // a segment that is gone makes the caller start over: report that one first
      }
      if (--open == 0) {
        notifyAll();
      }
    }

    private synchronized boolean failed() {
      return failure != null;
    }

    /** Waits until every want is done, interrupted or not (a worker may still write into the caller's buffer). */
    private synchronized void await() throws IOException {
      boolean interrupted = false;
      while (open > 0) {
        try {
          wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted reading the log");
      }
      if (failure instanceof IOException io) {
        throw io;
      }
      if (failure != null) {
        throw (RuntimeException) failure;
      }
    }

    private static boolean notFound(Exception e) {
      return e instanceof StoreException se && se.kind() == StoreException.Kind.NOT_FOUND;
    }
  }

  private final ChunkStore store;
  private final CacheCounters counters;
  /** Bytes of spans in flight, shared by every volume of the gateway; a worker holds a span's bytes while it reads. */
  private final Semaphore spanBytes;
  /** Wants by segment, the segment first asked for first; guarded by this. */
  private final LinkedHashMap<Segment, List<Want>> queued = new LinkedHashMap<>();
  /** Workers running; guarded by this. */
  private int workers;

  SegmentReads(ChunkStore store, CacheCounters counters, Semaphore spanBytes) {
    this.store = store;
    this.counters = counters;
    this.spanBytes = spanBytes;
  }

  /**
   * Copies the live bytes of {@code extents} of chunk {@code chunk} (stored ones, not overlapping) into {@code dst},
   * whose position is chunk offset {@code base}; returns when all are there, or throws the first failure.
   */
  void read(long chunk, int base, List<LogIndex.Extent> extents, ByteBuffer dst) throws IOException {
    if (extents.isEmpty()) {
      return;
    }
    Reader reader = new Reader();
    reader.open = extents.size();
    int start;
    synchronized (this) {
      for (LogIndex.Extent e : extents) {
        queued.computeIfAbsent(new Segment(e.first(), e.seq()), k -> new ArrayList<>())
            .add(new Want(chunk, base, dst, e, reader));
      }
      start = Math.min(PARALLEL - workers, queued.size());
      workers += Math.max(0, start);
    }
    for (int w = 0; w < start; w++) {
      Thread.ofVirtual().name("log-read-" + store.volumeId()).start(this::work);
    }
    reader.await();
  }

  /** Wants queued and not yet taken by a worker (tests). */
  synchronized int queuedWants() {
    int n = 0;
    for (List<Want> w : queued.values()) {
      n += w.size();
    }
    return n;
  }

  private void work() {
    try {
      drain();
    } catch (Throwable t) {
      boolean more;
      synchronized (this) {
        workers--;
        more = !queued.isEmpty() && workers++ < PARALLEL;
      }
      if (more) {
        Thread.ofVirtual().name("log-read-" + store.volumeId()).start(this::work); // nobody else would take the rest
      }
      throw t;
    }
  }

  private void drain() {
    while (true) {
      Map.Entry<Segment, List<Want>> next;
      synchronized (this) {
        Iterator<Map.Entry<Segment, List<Want>>> it = queued.entrySet().iterator();
        if (!it.hasNext()) {
          workers--;
          return;
        }
        next = it.next();
        it.remove();
      }
      List<Want> live = new ArrayList<>(next.getValue().size());
      for (Want w : next.getValue()) {
        if (w.reader().failed()) {
          w.reader().done(null);
        } else {
          live.add(w);
        }
      }
      for (List<Want> span : spans(live)) {
        read(next.getKey(), span);
      }
    }
  }

  /**
   * Splits {@code wants} (of one segment) into spans that one ranged GET each reads, by offset in the segment: wants
   * at most {@link #RUN_GAP} apart share a span of at most {@link #MAX_SPAN} bytes. A merged segment holds its
   * originals' captures one after the other, so one chunk's extents there may lie megabytes apart; one GET from the
   * first to the last took a 1-4 MiB array per segment per chunk read, and a fold beside a read ran out of heap.
   */
  static List<List<Want>> spans(List<Want> wants) {
    wants.sort(Comparator.comparingInt(w -> w.extent().segOffset()));
    List<List<Want>> out = new ArrayList<>();
    List<Want> span = new ArrayList<>();
    int from = 0;
    int end = 0;
    for (Want w : wants) {
      LogIndex.Extent e = w.extent();
      int wantEnd = e.segOffset() + e.storedLength();
      if (!span.isEmpty() && (e.segOffset() - end > RUN_GAP || Math.max(end, wantEnd) - from > MAX_SPAN)) {
        out.add(span);
        span = new ArrayList<>();
      }
      if (span.isEmpty()) {
        from = e.segOffset();
        end = wantEnd;
      }
      span.add(w);
      end = Math.max(end, wantEnd);
    }
    if (!span.isEmpty()) {
      out.add(span);
    }
    return out;
  }

  /** One ranged GET of {@code segment} covering {@code span}, then each want checked and copied out. */
  private void read(Segment segment, List<Want> span) {
    int from = Integer.MAX_VALUE;
    int to = 0;
    for (Want w : span) {
      from = Math.min(from, w.extent().segOffset());
      to = Math.max(to, w.extent().segOffset() + w.extent().storedLength());
    }
    int permits = Math.min(to - from, BUDGET);
    spanBytes.acquireUninterruptibly(permits); // workers are this class's own threads: nobody interrupts them
    try {
      byte[] bytes = new byte[to - from];
      try {
        store.readLog(segment.first(), segment.last(), from, ByteBuffer.wrap(bytes));
        counters.gotRange(bytes.length);
      } catch (IOException | RuntimeException e) {
        span.forEach(w -> w.reader().done(e));
        return;
      } catch (Error e) {
        span.forEach(w -> w.reader().done(new IOException("reading log segment " + segment.last() + ": " + e, e)));
        throw e;
      }
      for (Want w : span) {
        w.reader().done(copy(w, bytes, from));
      }
    } finally {
      spanBytes.release(permits);
    }
  }

  /** Checks {@code w}'s stored extent in {@code bytes} (segment offset {@code from}) and copies its live part. */
  private @Nullable Exception copy(Want w, byte[] bytes, int from) {
    LogIndex.Extent e = w.extent();
    int at = e.segOffset() - from;
    CRC32C crc = new CRC32C();
    crc.update(bytes, at, e.storedLength());
    if ((int) crc.getValue() != e.crc()) {
      log.error("volume {}: log segment {} holds a damaged extent of chunk {} (offset {}, {} bytes): checksum "
          + "mismatch", store.volumeId(), e.seq(), w.chunk(), e.storedStart(), e.storedLength());
      counters.checksumFailed();
      return new EngineException(EngineException.Kind.IO, "volume " + store.volumeId() + ": log segment "
          + e.seq() + " extent of chunk " + w.chunk() + " fails its checksum");
    }
    ByteBuffer dst = w.dst();
    dst.duplicate().position(dst.position() + e.start() - w.base())
        .put(bytes, at + e.start() - e.storedStart(), e.end() - e.start());
    return null;
  }
}
