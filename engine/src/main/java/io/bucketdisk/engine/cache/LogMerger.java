package io.bucketdisk.engine.cache;

import io.bucketdisk.store.ChunkStore;
import io.bucketdisk.store.StoreException;
import io.bucketdisk.store.log.LogExtent;
import io.bucketdisk.store.log.LogSegment;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Merges runs of small stored log segments into one segment each, folding nothing: what keeps the number of
 * segments (which bounds what the next open reads) low for a writer that FLUSHes after every small write, at the cost
 * of copying those segments' bytes, where a compaction by count stores every chunk they touch.
 *
 * <p><b>What a merged segment holds.</b> The extents of the run's segments in their order, less the bytes a later
 * segment writes again: a later extent of the run, or an index entry naming a segment after the run (which stays
 * stored as long as the merged one: only a prefix of the log is ever trimmed). Bytes already folded into chunk
 * objects are kept: a segment before the run may still name an older version of them, and a replay applies it before
 * the merged one. So applying the merged segment in the run's place gives what the originals would, whatever the
 * chunk objects hold ({@link ChunkStore#mergeLog}), and an extent the {@link LogIndex} names is always kept whole.
 *
 * <p><b>Steps.</b> Read each original whole ({@link #PARALLEL_READS} at a time, every CRC32C checked); build the merged
 * segment ({@link LogSegment.Builder}: a CRC32C per extent and over the directory); store it
 * ({@link ChunkStore#mergeLog}: fenced, its key naming the range, under the originals' highest epoch); swap the
 * bookkeeping ({@link WriteLog#merged}: segment list, stored bytes, live counts, index entries); delete the originals
 * ({@link ChunkStore#dropMerged}). A read that took index entries naming an original before the swap and reads it after
 * the delete gets NOT_FOUND and looks again ({@link StoredChunks}). A crash before the delete leaves both; an open
 * takes the merged one and deletes the rest. A failed PUT changes nothing here; a failed delete leaves originals that
 * the trim of the merged segment, or the next open, deletes.
 *
 * <p><b>When.</b> Once the log holds {@link #MERGE_AT} segments, runs chosen by {@link #pick}, one merge at a time
 * per volume on a virtual thread and at most two gateway-wide ({@code ChunkCache#mergeSlots}), while no compaction
 * is due or running (it folds and trims those segments anyway) and the volume is open. A merge holds
 * {@link WriteLog#maintenance} throughout, so no trim changes the stored segments meanwhile; a FLUSH takes neither
 * lock and never waits for a merge.
 *
 * <p>Thread safe.
 */
final class LogMerger {
  private static final Logger log = LoggerFactory.getLogger(LogMerger.class);
  /** Stored segments before merging starts: fewer cost an open little. */
  static final int MERGE_AT = 128;
  /**
   * Size classes: a run of segments each of a lower class is merged once their bytes reach the bound of the class,
   * and the merged segment belongs to the next class even when it came out smaller (bytes written again are left
   * out). A segment's class is the higher of its size's and its level (the merges it came from). So each merge moves
   * bytes up a class and a byte is copied at most once per class: three times, into segments of about 4 MiB.
   */
  static final long[] BOUNDS = {64 << 10, 1 << 20, 4 << 20};
  /** A run of this many segments under the largest bound is merged even when its bytes never reach it. */
  static final int STRANDED_RUN = 32;
  /** How long merging pauses after a failure. */
  static final long RETRY_NANOS = 10_000_000_000L;
  /** Originals read at once by one merge. */
  static final int PARALLEL_READS = 8;

  /** Where the bytes of an original extent went: segment {@code seq}, chunk, the extent's offset in the chunk. */
  private record Origin(long seq, long chunk, int storedStart) {}

  /** A kept part {@code [from, to)} of an original extent, in the merged segment. */
  private record Piece(int from, int to, int segOffset, int crc, boolean zero) {}

  private final ChunkStore store;
  private final LogIndex index;
  private final WriteLog writeLog;
  private final LogCompactor compactor;
  private final CacheCounters counters;
  private final Semaphore slots;
  private final int chunkSize;
  private final AtomicBoolean running = new AtomicBoolean();
  private volatile boolean stopped;
  /** After a failed merge none starts before this ({@link System#nanoTime}): a damaged log is not read each tick. */
  private volatile long quietUntil = System.nanoTime();

  LogMerger(ChunkStore store, LogIndex index, WriteLog writeLog, LogCompactor compactor, CacheCounters counters,
      Semaphore slots) {
    this.store = store;
    this.index = index;
    this.writeLog = writeLog;
    this.compactor = compactor;
    this.counters = counters;
    this.slots = slots;
    this.chunkSize = store.chunkSize();
  }

  /** Starts merging on a virtual thread when the log holds {@link #MERGE_AT} segments and nothing else runs. */
  void mergeIfDue() {
    if (stopped || store.readOnly() || System.nanoTime() - quietUntil < 0 || writeLog.storedSegments() < MERGE_AT
        || compactor.running() || compactor.due() || !running.compareAndSet(false, true)) {
      return;
    }
    Thread.ofVirtual().name("merge-" + store.volumeId()).start(() -> {
      try {
        while (!stopped && !compactor.running() && !compactor.due() && slots.tryAcquire()) {
          try {
            if (!mergeOnce()) {
              break;
            }
          } finally {
            slots.release();
          }
        }
      } catch (IOException | RuntimeException e) {
        boolean fenced = e instanceof StoreException se && se.kind() == StoreException.Kind.CONFLICT;
        if (fenced) {
          stopped = true;
        }
        quietUntil = System.nanoTime() + RETRY_NANOS;
        log.warn("volume {}: merging log segments failed{}: {}", store.volumeId(),
            fenced ? "" : " (will retry in 10 s)", e.getMessage());
      } finally {
        running.set(false);
      }
    });
  }

  /**
   * Stops merging and waits for a merge in progress (the volume closes). A merger that started after the flag was
   * read sees it set at its first step.
   */
  void close() throws java.io.InterruptedIOException {
    stopped = true;
    try {
      while (running.get()) {
        Thread.sleep(2);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted waiting for a log merge");
    }
  }

  /** Merges one run if the log still holds {@link #MERGE_AT} segments and {@link #pick} finds one. */
  boolean mergeOnce() throws IOException {
    ReentrantLock lock = writeLog.maintenance();
    lock.lock();
    try {
      if (writeLog.storedSegments() < MERGE_AT) {
        return false;
      }
      Run run = pick(writeLog.stored());
      if (run == null) {
        return false;
      }
      merge(run.segments(), run.level());
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** The class of a segment ({@link #BOUNDS}): {@code BOUNDS.length} for one never merged again. */
  static int sizeClass(WriteLog.Stored s) {
    int c = 0;
    while (c < BOUNDS.length && s.bytes() >= BOUNDS[c]) {
      c++;
    }
    return Math.max(c, s.level());
  }

  /** A run to merge and the level of the merged segment. */
  record Run(List<WriteLog.Stored> segments, int level) {}

  /**
   * The run to merge next, oldest first, or null: for each class of {@link #BOUNDS} in turn, the first run of
   * consecutive segments of that class or lower whose bytes reach its bound, lengthened while it stays below the next
   * bound (a merger that fell behind a sync writer catches up in fewer, larger merges), merged into the next class;
   * else the first run of {@link #STRANDED_RUN} or more segments of lower classes than the last (merged at their
   * highest).
   */
  static @Nullable Run pick(List<WriteLog.Stored> segments) {
    for (int k = 0; k < BOUNDS.length; k++) {
      long cap = k + 1 < BOUNDS.length ? BOUNDS[k + 1] : 2 * BOUNDS[k];
      int from = 0;
      long total = 0;
      for (int i = 0; i < segments.size(); i++) {
        WriteLog.Stored s = segments.get(i);
        if (sizeClass(s) > k) {
          from = i + 1;
          total = 0;
          continue;
        }
        total += s.bytes();
        if (total >= BOUNDS[k] && i > from) {
          int to = i + 1;
          while (to < segments.size() && sizeClass(segments.get(to)) <= k
              && total + segments.get(to).bytes() < cap) {
            total += segments.get(to++).bytes();
          }
          return new Run(List.copyOf(segments.subList(from, to)), k + 1);
        }
      }
    }
    int from = 0;
    int level = 0;
    for (int i = 0; i <= segments.size(); i++) {
      if (i == segments.size() || sizeClass(segments.get(i)) >= BOUNDS.length) {
        if (i - from >= STRANDED_RUN) {
          return new Run(List.copyOf(segments.subList(from, i)), level);
        }
        from = i + 1;
        level = 0;
      } else {
        level = Math.max(level, sizeClass(segments.get(i)));
      }
    }
    return null;
  }

  private void merge(List<WriteLog.Stored> run, int level) throws IOException {
    long first = run.getFirst().first();
    long last = run.getLast().last();
    List<LogSegment.Decoded> originals = readAll(run);
    // newest first: what a later extent (of the run, or named by the index after it) writes again is not kept
    Map<Long, ValidRanges> later = new HashMap<>();
    List<List<int[]>> kept = new ArrayList<>();
    long keptBytes = 0;
    int keptExtents = 0;
    for (int s = originals.size() - 1; s >= 0; s--) {
      List<LogExtent> extents = originals.get(s).extents();
      for (int k = extents.size() - 1; k >= 0; k--) {
        LogExtent e = extents.get(k);
        ValidRanges covered = later.computeIfAbsent(e.chunk(), c -> after(c, last));
        List<int[]> parts = new ArrayList<>(1);
        int from = e.offset();
        int to = e.offset() + e.length();
        covered.forEachMissing((a, z) -> {
          if (a < to && z > from) {
            parts.add(new int[] {Math.max(a, from), Math.min(z, to)});
          }
        });
        covered.add(from, to);
        kept.add(parts);
        keptExtents += parts.size();
        for (int[] p : parts) {
          keptBytes += e.zero() ? 0 : p[1] - p[0];
        }
      }
    }
    java.util.Collections.reverse(kept);
    LogSegment.Builder b = new LogSegment.Builder(0);
    b.reset(new byte[Math.toIntExact(LogSegment.size(keptBytes, keptExtents))]); // grown by doubling, it was 2x
    Map<Origin, List<Piece>> moved = new HashMap<>();
    int n = 0;
    for (int s = 0; s < originals.size(); s++) {
      for (LogExtent e : originals.get(s).extents()) {
        List<Piece> pieces = moved.computeIfAbsent(new Origin(run.get(s).last(), e.chunk(), e.offset()),
            k -> new ArrayList<>(1));
        for (int[] p : kept.get(n)) {
          if (e.zero()) {
            b.addZero(e.chunk(), p[0], p[1] - p[0]);
            pieces.add(new Piece(p[0], p[1], 0, 0, true));
            continue;
          }
          ByteBuffer data = e.data();
          int at = b.position();
          int crc = b.addData(e.chunk(), p[0], p[1] - p[0],
              (o, dst, dstOffset, len) -> data.get(data.position() + o - e.offset(), dst, dstOffset, len));
          pieces.add(new Piece(p[0], p[1], at, crc, false));
        }
        n++;
      }
    }
    for (long c : later.keySet()) { // before the PUT: every live entry of the run must have kept its bytes
      for (LogIndex.Extent x : index.overlapping(c, 0, chunkSize)) {
        if (x.inside(first, last) && move(moved, c, x, first, last) == null) {
          throw new IllegalStateException("volume " + store.volumeId() + ": merging log segments " + first + ".."
              + last + " would drop live bytes of chunk " + c + " (" + x + ")");
        }
      }
    }
    ByteBuffer segment = b.finish();
    long bytes = segment.remaining();
    store.mergeLog(first, last, segment);
    counters.merged(bytes);
    writeLog.merged(first, last, bytes, level, later.keySet(), c -> x -> {
      LogIndex.Extent to = move(moved, c, x, first, last);
      return to != null ? to : x;
    });
    try {
      store.dropMerged(first, last);
    } catch (IOException e) {
      log.warn("volume {}: log segments {}..{} merged but not all deleted (the trim of the merged one deletes them): "
          + "{}", store.volumeId(), first, last, e.getMessage());
    }
    log.debug("volume {}: merged log segments {}..{} ({} of them) into {} bytes", store.volumeId(), first, last,
        run.size(), bytes);
  }

  /** Chunk {@code c}'s ranges that index entries of segments after {@code last} hold. */
  private ValidRanges after(long c, long last) {
    ValidRanges r = new ValidRanges(chunkSize);
    index.loggedAfter(c, last, r);
    return r;
  }

  /** Entry {@code x} of chunk {@code c} as it names the merged segment, or null when its bytes were not kept. */
  private static LogIndex.@Nullable Extent move(Map<Origin, List<Piece>> moved, long c, LogIndex.Extent x,
      long first, long last) {
    for (Piece p : moved.getOrDefault(new Origin(x.seq(), c, x.storedStart()), List.of())) {
      if (p.from() <= x.start() && x.end() <= p.to()) {
        return new LogIndex.Extent(x.start(), x.end(), last, x.version(), p.from(), p.to() - p.from(), p.segOffset(),
            p.crc(), p.zero(), first);
      }
    }
    return null;
  }

  /** The segments of {@code run} whole, {@link #PARALLEL_READS} at a time. */
  private List<LogSegment.Decoded> readAll(List<WriteLog.Stored> run) throws IOException {
    List<java.util.concurrent.Future<LogSegment.Decoded>> reads = new ArrayList<>(run.size());
    Semaphore permits = new Semaphore(PARALLEL_READS);
    try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      for (WriteLog.Stored s : run) {
        permits.acquireUninterruptibly();
        reads.add(pool.submit(() -> {
          try {
            return read(s);
          } finally {
            permits.release();
          }
        }));
      }
    }
    List<LogSegment.Decoded> out = new ArrayList<>(run.size());
    for (var f : reads) {
      try {
        out.add(f.get());
      } catch (java.util.concurrent.ExecutionException e) {
        throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted reading log segments to merge");
      }
    }
    return out;
  }

  /** Segment {@code s} whole, every checksum checked. */
  private LogSegment.Decoded read(WriteLog.Stored s) throws IOException {
    byte[] all = new byte[Math.toIntExact(s.bytes())];
    store.readLog(s.first(), s.last(), 0, ByteBuffer.wrap(all));
    counters.got(all.length);
    try {
      LogSegment.Decoded d = LogSegment.decode(ByteBuffer.wrap(all));
      if (d.seq() != s.last()) {
        throw new LogSegment.DamagedException("header says seq " + d.seq());
      }
      return d;
    } catch (LogSegment.DamagedException e) {
      counters.checksumFailed();
      throw new StoreException(StoreException.Kind.PERMANENT, "volume " + store.volumeId() + ": log segment "
          + s.first() + ".." + s.last() + " is damaged (" + e.getMessage() + "); not merged");
    }
  }
}
