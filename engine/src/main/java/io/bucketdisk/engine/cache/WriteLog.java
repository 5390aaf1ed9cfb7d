package io.bucketdisk.engine.cache;

import io.bucketdisk.engine.EngineException;
import io.bucketdisk.store.ChunkStore;
import io.bucketdisk.store.StoreException;
import io.bucketdisk.store.log.LogSegment;
import io.bucketdisk.store.log.SegmentDirectory;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One volume's write log, engine side: what makes a FLUSH one PUT of the changed bytes instead of one whole-chunk
 * PUT (and maybe a GET) per dirty chunk.
 *
 * <p><b>Logging</b> ({@link #log}). Under one lock per volume, the changes of the given dirty buffers that no segment
 * holds yet (their {@code unlogged} ranges, or a zeros extent for a zeroed chunk) are copied into one segment, at
 * most {@link #MAX_SEGMENT_BYTES} of data each (one volume at a time, and at most {@link SegmentBuffers#IN_FLIGHT}
 * segments gateway-wide, in arrays kept for reuse), and stored with {@link ChunkStore#appendLog}; then each buffer's
 * {@code loggedVersion} becomes the version copied. Those versions are durable: a writable open adopts the log.
 * A failed PUT restores the ranges and leaves the number for the next attempt, so the stored log has no gaps.
 *
 * <p><b>Folding rule.</b> An open applies every stored segment, in order, over the chunk objects (by adopting it, or
 * by a replay for readers of chunk objects only). So a chunk object
 * may only be written with state that the log holds in full whenever some stored segment has extents of that chunk
 * ({@link #holds}): otherwise replaying that older segment would take newer bytes back. The uploader asks
 * {@link #holds} after copying a chunk and logs it first when needed; a chunk no segment names is folded directly.
 *
 * <p><b>Trimming.</b> A segment is dead once every chunk version it logged was folded ({@link #folded}); the longest
 * dead prefix of segments is deleted ({@link #trimDead}), only then do its chunks stop counting as held. Deleting a
 * prefix only keeps the stored log a gap-free run.
 *
 * <p><b>Adoption.</b> A clean close leaves the log stored, and the next writable open takes it over ({@link #adopt}):
 * the store lists the segments a replay would apply, in order, with their directories ({@link SegmentDirectory}),
 * and each enters this bookkeeping as if this writer had stored it, its extents in the {@link LogIndex} at the
 * segment's number as their chunk version (log order; the volume's clock starts above the highest). A chunk an
 * adopted segment names is held, pending until folded at that version, and its segment trimmed once dead, like any
 * other.
 *
 * <p><b>Merging.</b> The {@link LogMerger} replaces a run of stored segments with one ({@link #merged}): it takes
 * their place in the segment list (numbered by the run's last number, covering the run), counts their live chunk
 * versions, and the index entries naming them name it. It holds {@link #maintenance} throughout, as a trim does.
 *
 * <p>Lock order: the append lock, then a buffer monitor; {@link #maintenance} is never taken inside either, and the
 * tracker monitor ({@code this}) is taken last (an index chunk's monitor inside it). Thread safe.
 */
final class WriteLog {
  private static final Logger log = LoggerFactory.getLogger(WriteLog.class);
  static final int MAX_SEGMENT_BYTES = 4 << 20;
  private static final byte[] NO_ARRAY = new byte[0];

  /** A chunk version one stored segment logged. */
  private record Logged(long seq, long version) {}

  /**
   * A stored segment (covering {@code [first, seq]} when merged), its size, and how many of its chunk versions are
   * not folded yet.
   */
  private static final class Segment {
    final long first;
    final long seq;
    final long bytes;
    final int level;
    int live;

    Segment(long first, long seq, long bytes, int level) {
      this.first = first;
      this.seq = seq;
      this.bytes = bytes;
      this.level = level;
    }
  }

  /**
   * A stored segment as the {@link LogMerger} sees it: its range, size, and how many merges its bytes went through
   * (at least 1 for a merged one).
   */
  record Stored(long first, long last, long bytes, int level) {}

  /**
   * One buffer's capture into the segment being built: the version copied, the ranges it took, and where each
   * range's bytes went in the segment with their CRC32C.
   */
  private record Capture(ChunkBuffer buffer, long version, int[] ranges, int[] segOffsets, int[] crcs,
      boolean zeroed, long dirtySinceNanos) {}

  private final ChunkStore store;
  private final String volumeId;
  private final int chunkSize;
  private final CacheCounters counters;
  private final ReentrantLock appendLock = new ReentrantLock();
  /** Gateway-wide: segments being built or stored at once, and their arrays. */
  private final SegmentBuffers segmentBuffers;
  /** Builds in an array of {@code buffers} while {@link #log} runs, and holds none between. */
  private final LogSegment.Builder builder = new LogSegment.Builder(0);
  /** Per chunk: the highest segment number that has its extents, while that segment may be stored. */
  private final ConcurrentHashMap<Long, Long> heldBy = new ConcurrentHashMap<>();
  private final LogIndex index;
  private long storedBytes;
  private final ArrayDeque<Segment> segments = new ArrayDeque<>();
  private final Map<Long, ArrayDeque<Logged>> pending = new HashMap<>();
  private final AtomicBoolean trimming = new AtomicBoolean();
  /** Held by a trim and by a whole merge: the set of stored segments changes under one of them at a time. */
  private final ReentrantLock maintenance = new ReentrantLock();
  private long nextSeq;
  private volatile long trimmedThrough;
  /** System.nanoTime() when the last segment this writer appended was stored (or when the log was opened). */
  private volatile long lastStoredNanos = System.nanoTime();

  WriteLog(ChunkStore store, LogIndex index, CacheCounters counters, SegmentBuffers buffers) {
    this.index = index;
    this.segmentBuffers = buffers;
    this.store = store;
    this.volumeId = store.volumeId();
    this.chunkSize = store.chunkSize();
    this.counters = counters;
    this.nextSeq = store.readOnly() ? 1 : store.nextLogSeq();
    this.trimmedThrough = nextSeq - 1;
  }

  /**
   * Takes over {@code adopted}, the segments a previous writer left (in log order; see the class note), before any
   * segment of this writer is stored. Returns the highest chunk version given to their extents (0 for none): every
   * version handed out afterwards must be above it.
   */
  synchronized long adopt(List<SegmentDirectory> adopted) {
    if (adopted.isEmpty()) {
      return 0;
    }
    trimmedThrough = adopted.getFirst().seq() - 1;
    for (SegmentDirectory d : adopted) {
      long version = d.seq();
      Segment s = new Segment(d.first(), d.seq(), d.bytes(), d.first() < d.seq() ? 1 : 0);
      java.util.Set<Long> named = new java.util.LinkedHashSet<>();
      for (SegmentDirectory.Entry e : d.entries()) {
        index.add(e.chunk(), new LogIndex.Extent(e.offset(), e.offset() + e.length(), d.seq(), version, e.offset(),
            e.length(), e.dataOffset(), e.crc(), e.zero(), d.first()));
        named.add(e.chunk());
      }
      for (long i : named) {
        heldBy.put(i, d.seq());
        pending.computeIfAbsent(i, k -> new ArrayDeque<>()).add(new Logged(d.seq(), version));
        s.live++;
      }
      storedBytes += d.bytes();
      segments.add(s);
    }
    log.info("volume {}: took over {} log segments ({} bytes, {} chunks, {} live extents) left by the previous writer",
        volumeId, adopted.size(), storedBytes, pending.size(), index.extentCount());
    return adopted.getLast().seq();
  }

  /** Whether a stored segment may have extents of chunk {@code index} (then fold only logged state). */
  boolean holds(long index) {
    return heldBy.containsKey(index);
  }

  /**
   * Logs the changes of {@code buffers} that no segment holds yet. With {@code skipUploading} (a FLUSH or FUA), a
   * buffer whose upload in flight stores its current version is left to that upload, and a chunk rewritten whole
   * that no segment names is left to an upload too (the caller waits for it). Returns when the store acknowledged
   * every segment.
   */
  void log(Collection<ChunkBuffer> buffers, boolean skipUploading) throws IOException {
    appendLock.lock();
    try {
      builder.reset(segmentBuffers.take());
    } catch (InterruptedException e) {
      appendLock.unlock();
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted waiting to store a log segment");
    }
    try {
      List<Capture> captured = new ArrayList<>();
      for (ChunkBuffer b : buffers) {
        Capture c = capture(b, skipUploading);
        if (c == null) {
          continue;
        }
        captured.add(c);
        if (builder.dataBytes() >= MAX_SEGMENT_BYTES) {
          store(captured);
          captured = new ArrayList<>();
          builder.reset(builder.buffer());
        }
      }
      if (!captured.isEmpty()) {
        store(captured);
      }
    } finally {
      segmentBuffers.give(builder.buffer());
      builder.reset(NO_ARRAY);
      appendLock.unlock();
    }
  }

  private Capture capture(ChunkBuffer b, boolean skipUploading) {
    synchronized (b) {
      if (!b.dirty || !b.atRisk()) {
        return null;
      }
      if (skipUploading && b.uploading && b.uploadVersion == b.version) {
        return null;
      }
      if (skipUploading && b.data != null && b.unlogged.isFull() && !holds(b.index)) {
        return null; // rewritten whole (a sequential writer): one chunk PUT stores it, logging it would cost two
      }
      heldBy.put(b.index, nextSeq);
      ChunkBytes d = b.data;
      Capture c;
      if (d == null) {
        builder.addZero(b.index, 0, chunkSize);
        c = new Capture(b, b.version, new int[0], new int[0], new int[0], true, b.dirtySinceNanos);
      } else {
        // one extent per checksum granule, so that a read of a few KiB fetches and checks one granule of the
        // segment, not a whole logged chunk
        int[] ranges = b.unlogged.toPieces(ChunkStore.GRANULE);
        int[] at = new int[ranges.length / 2];
        int[] crcs = new int[ranges.length / 2];
        for (int r = 0; r < ranges.length; r += 2) {
          at[r / 2] = builder.position();
          crcs[r / 2] = builder.addData(b.index, ranges[r], ranges[r + 1] - ranges[r], d);
        }
        c = new Capture(b, b.version, ranges, at, crcs, false, b.dirtySinceNanos);
      }
      b.unlogged.clear();
      b.capturedVersion = b.version;
      // what changes from now on is at risk since no earlier than now (the age bound must not fire again at once
      // when this segment is stored); a failed PUT puts the older time back
      b.dirtySinceNanos = System.nanoTime();
      return c;
    }
  }

  /** Stores the built segment as the next number; on failure gives the captured ranges back. */
  private void store(List<Capture> captured) throws IOException {
    long seq = nextSeq;
    java.nio.ByteBuffer segment = builder.finish();
    int bytes = segment.remaining();
    try {
      store.appendLog(seq, segment);
    } catch (IOException | RuntimeException e) {
      for (Capture c : captured) {
        synchronized (c.buffer()) {
          c.buffer().dirtySinceNanos = Math.min(c.buffer().dirtySinceNanos, c.dirtySinceNanos());
          c.buffer().capturedVersion = c.buffer().loggedVersion; // one capture at a time: none is in flight now
          if (c.zeroed()) {
            c.buffer().unlogged.setFull();
          } else {
            for (int r = 0; r < c.ranges().length; r += 2) {
              c.buffer().unlogged.add(c.ranges()[r], c.ranges()[r + 1]);
            }
          }
        }
      }
      counters.failed();
      boolean fenced = e instanceof StoreException se && se.kind() == StoreException.Kind.CONFLICT;
      throw new EngineException(fenced ? EngineException.Kind.FENCED : EngineException.Kind.IO,
          "volume " + volumeId + ": log segment " + seq + " could not be stored: " + e.getMessage(), e);
    }
    nextSeq = seq + 1;
    lastStoredNanos = System.nanoTime();
    counters.logged(bytes);
    Segment s = new Segment(seq, seq, bytes, 0);
    synchronized (this) {
      storedBytes += bytes;
      // a chunk folded at this version or later while the PUT ran needs nothing from this segment (folded() ran
      // before this block, or runs after it and finds the entry)
      for (Capture c : captured) {
        ChunkBuffer b = c.buffer();
        synchronized (b) {
          boolean folded = b.durableVersion >= c.version();
          if (!folded) {
            indexExtents(seq, c); // before loggedVersion: a chunk may leave memory once logged
          }
          b.loggedVersion = Math.max(b.loggedVersion, c.version());
          b.notifyAll();
          if (folded) {
            continue;
          }
        }
        pending.computeIfAbsent(b.index, k -> new ArrayDeque<>()).add(new Logged(seq, c.version()));
        s.live++;
      }
      segments.add(s);
    }
  }

  private void indexExtents(long seq, Capture c) {
    long i = c.buffer().index;
    if (c.zeroed()) {
      index.add(i, new LogIndex.Extent(0, chunkSize, seq, c.version(), 0, chunkSize, 0, 0, true));
      return;
    }
    int[] r = c.ranges();
    for (int k = 0; k < r.length; k += 2) {
      int len = r[k + 1] - r[k];
      index.add(i, new LogIndex.Extent(r[k], r[k + 1], seq, c.version(), r[k], len, c.segOffsets()[k / 2],
          c.crcs()[k / 2], false));
    }
  }

  /**
   * Chunk {@code index} is stored at {@code version} (PUT or DELETE): its extents up to there leave the
   * {@link LogIndex}, and the segments that logged it up to there may go.
   */
  synchronized void folded(long index, long version) {
    this.index.folded(index, version);
    ArrayDeque<Logged> q = pending.get(index);
    if (q == null) {
      return;
    }
    q.removeIf(l -> {
      if (l.version() > version) {
        return false;
      }
      for (Segment s : segments) {
        if (s.seq == l.seq()) {
          s.live--;
          break;
        }
      }
      return true;
    });
    if (q.isEmpty()) {
      pending.remove(index);
    }
  }

  /**
   * {@code chunks} ordered by the oldest segment that still holds a change of theirs not folded (chunks with none
   * last): folding in this order lets the log's dead prefix, the only part {@link #trimDead} deletes, grow with every
   * chunk folded, where another order frees nothing until nearly the last chunk.
   */
  List<Long> oldestFirst(List<Long> chunks) {
    long[][] keyed = new long[chunks.size()][];
    synchronized (this) {
      for (int k = 0; k < keyed.length; k++) {
        long i = chunks.get(k);
        long oldest = Long.MAX_VALUE;
        ArrayDeque<Logged> q = pending.get(i);
        if (q != null) {
          for (Logged l : q) {
            oldest = Math.min(oldest, l.seq());
          }
        }
        keyed[k] = new long[] {oldest, i};
      }
    }
    java.util.Arrays.sort(keyed, (a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
    List<Long> out = new ArrayList<>(keyed.length);
    for (long[] k : keyed) {
      out.add(k[1]);
    }
    return out;
  }

  /** Starts deleting the dead prefix of the stored log on a virtual thread, unless one is running. */
  void trimDeadAsync() {
    if (deadThrough() > trimmedThrough && trimming.compareAndSet(false, true)) {
      Thread.ofVirtual().name("log-trim-" + volumeId).start(() -> {
        try {
          trimDead();
        } catch (IOException e) {
          log.warn("volume {}: could not delete folded log segments (will retry): {}", volumeId, e.getMessage());
        } finally {
          trimming.set(false);
        }
      });
    }
  }

  /** Deletes the longest prefix of segments whose chunk versions are all folded (after a merge running now). */
  void trimDead() throws IOException {
    maintenance.lock();
    try {
      long through = deadThrough();
      if (through <= trimmedThrough) {
        return;
      }
      store.trimLog(through);
      trimmedThrough = through;
      synchronized (this) {
        while (!segments.isEmpty() && segments.peekFirst().seq <= through) {
          storedBytes -= segments.pollFirst().bytes;
        }
      }
      heldBy.entrySet().removeIf(e -> e.getValue() <= through);
    } finally {
      maintenance.unlock();
    }
  }

  /** The lock a merge holds from choosing its segments until the originals are dropped (see {@link LogMerger}). */
  ReentrantLock maintenance() {
    return maintenance;
  }

  /** The stored segments in log order. */
  synchronized List<Stored> stored() {
    List<Stored> out = new ArrayList<>(segments.size());
    for (Segment s : segments) {
      out.add(new Stored(s.first, s.seq, s.bytes, s.level));
    }
    return out;
  }

  /**
   * The stored segments inside {@code [first, last]} (a run of them, with the {@link #maintenance} lock held since
   * they were chosen) are replaced by one merged segment of {@code bytes} at {@code level}: it counts their live chunk
   * versions and replaces their bytes, and the entries of {@code chunks} naming them name it as {@code to} maps them.
   */
  synchronized void merged(long first, long last, long bytes, int level, Collection<Long> chunks,
      java.util.function.LongFunction<java.util.function.UnaryOperator<LogIndex.Extent>> to) {
    ArrayDeque<Segment> out = new ArrayDeque<>(segments.size());
    Segment m = new Segment(first, last, bytes, level);
    for (Segment s : segments) {
      if (s.first < first || s.seq > last) {
        out.add(s);
        continue;
      }
      m.live += s.live;
      storedBytes -= s.bytes;
      if (s.seq == last) {
        out.add(m);
      }
    }
    storedBytes += bytes;
    segments.clear();
    segments.addAll(out);
    for (ArrayDeque<Logged> q : pending.values()) {
      for (int n = q.size(); n > 0; n--) {
        Logged l = q.poll();
        q.add(l.seq() >= first && l.seq() <= last ? new Logged(last, l.version()) : l);
      }
    }
    for (long i : chunks) {
      index.moved(i, first, last, to.apply(i));
    }
  }

  private synchronized long deadThrough() {
    long through = trimmedThrough;
    for (Segment s : segments) {
      if (s.live > 0) {
        break;
      }
      through = s.seq;
    }
    return through;
  }

  /** How long ago this writer last appended a segment (merges do not count). */
  long idleNanos() {
    return System.nanoTime() - lastStoredNanos;
  }

  /** Bytes of the segments stored and not yet deleted. */
  synchronized long storedBytes() {
    return storedBytes;
  }

  /** Stored segments not yet deleted (for metrics and tests). */
  synchronized int storedSegments() {
    return segments.size();
  }
}
