package io.bucketdisk.store;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.log.LogExtent;
import io.bucketdisk.store.log.LogRef;
import io.bucketdisk.store.log.LogSegment;
import io.bucketdisk.store.log.SegmentDirectory;
import io.bucketdisk.store.object.ListPage;
import io.bucketdisk.store.object.ObjectData;
import io.bucketdisk.store.object.ObjectInfo;
import io.bucketdisk.store.object.ObjectStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One volume's write log on the object store: the segment objects below {@link Layout#logPrefix}, how they are
 * stored and trimmed, and what a writable handle does at open with what a previous writer left: fold it into the
 * chunk objects ({@link #replay}) or take it over as it is ({@link #adopt}).
 *
 * <p><b>Replay.</b> The segments {@link LogRef#replayOrder} accepts are read in batches (at most {@link #BATCH_BYTES}
 * of segments at a time); every chunk a batch touches is read, gets the batch's extents in log order, and is written
 * back through the {@link ChunkStore}. A chunk object so written holds only logged state, so replaying again after a
 * crash in the middle gives the same result. Then every listed segment is deleted (skipped ones too: a fenced
 * writer's late PUT, or segments after a gap) and the new writer numbers its segments after the highest one seen.
 *
 * <p><b>Adoption.</b> The segments {@link LogRef#replayOrder} accepts stay; their directories are read
 * ({@link SegmentDirectory}) and handed to the writer, which serves their extents from the segments and folds them
 * later. A segment of at most {@link #WHOLE_READ_BYTES} is read whole (one GET, every checksum checked); a larger one
 * as its header and its tail (two ranged GETs, three when the directory is longer than the tail read), checked by the
 * directory CRC; at most {@link #PARALLEL_READS} at a time. So an open costs at most three GETs of at most
 * {@link #WHOLE_READ_BYTES} (or the directory) per segment, and never reads the data of a large one. The new writer
 * numbers its segments after the highest one seen and reads the adopted ones like its own ({@link #read}). When a
 * skipped segment is numbered above the last accepted one (a fenced writer's late PUT past the end, or segments
 * after a gap), deleting it would leave a gap before the new writer's first segment, which the next open would stop
 * at: such a log is folded as by a replay instead, and nothing is adopted.
 *
 * <p>Thread safe: {@link #append} and {@link #trim} are called by one writer at a time per sequence number.
 */
final class VolumeLog {
  private static final Logger log = LoggerFactory.getLogger(VolumeLog.class);
  static final long BATCH_BYTES = 64L << 20;
  static final int WHOLE_READ_BYTES = 64 << 10;
  static final int PARALLEL_READS = 16;
  private static final int DELETE_PAGE = 1000;

  private final ObjectStore store;
  private final String volume;
  private final String prefix;
  private final StoreMetrics metrics;
  private volatile long nextSeq = 1;
  /**
   * The epoch each segment this writer stored, adopted or merged went out under, by its range, until trimmed or
   * replaced by a merge (a snapshot moves the epoch).
   */
  private final java.util.concurrent.ConcurrentSkipListMap<Span, Long> appended =
      new java.util.concurrent.ConcurrentSkipListMap<>();

  /** The numbers {@code [first, last]} a segment covers, ordered by last then first. */
  private record Span(long first, long last) implements Comparable<Span> {
    @Override
    public int compareTo(Span o) {
      int c = Long.compare(last, o.last);
      return c != 0 ? c : Long.compare(first, o.first);
    }
  }

  VolumeLog(ObjectStore store, String volume, StoreMetrics metrics) {
    this.store = store;
    this.volume = volume;
    this.prefix = Layout.logPrefix(volume);
    this.metrics = metrics;
  }

  long nextSeq() {
    return nextSeq;
  }

  /** Every segment key stored now, as refs, in LIST order. */
  List<LogRef> listed() throws IOException {
    return List.copyOf(sizes().keySet());
  }

  /** Every segment stored now with its size in bytes, in LIST order. */
  private Map<LogRef, Long> sizes() throws IOException {
    Map<LogRef, Long> out = new java.util.LinkedHashMap<>();
    String token = null;
    do {
      ListPage page = store.list(prefix, token, 1000);
      for (ObjectInfo o : page.objects()) {
        LogRef r = Layout.logRef(o.key(), prefix.length());
        if (r != null) {
          out.put(r, o.size());
        }
      }
      token = page.nextToken();
    } while (token != null);
    return out;
  }

  /** Whether any segment is stored (one LIST request). */
  boolean isEmpty() throws IOException {
    return store.list(prefix, null, 1).objects().isEmpty();
  }

  /** Stamps and stores segment {@code seq} of a writer in {@code epoch}. */
  void append(long seq, long epoch, ByteBuffer segment) throws IOException {
    ByteBuffer s = segment.duplicate();
    LogSegment.stamp(s, seq, epoch);
    store.put(Layout.logKey(volume, seq, epoch), s);
    appended.put(new Span(seq, seq), epoch);
    nextSeq = Math.max(nextSeq, seq + 1);
  }

  /**
   * Stamps and stores {@code segment} as the merge of this writer's segments {@code [first, last]} (they must be
   * a run of them, each inside the range), under the highest epoch among them: a merged segment never moves ahead of
   * a later segment of the same writer in replay order. The originals stay until {@link #dropMerged}.
   */
  void merge(long first, long last, ByteBuffer segment) throws IOException {
    long epoch = -1;
    long next = first;
    for (var e : appended.subMap(new Span(Long.MIN_VALUE, first), true, new Span(Long.MAX_VALUE, last), true)
        .entrySet()) {
      Span r = e.getKey();
      if (r.first() < first) {
        continue;
      }
      if (r.first() > next || r.last() < next) {
        throw new IllegalArgumentException("volume " + volume + ": log segments " + first + ".." + last
            + " are not a run of this writer's segments (" + r + ")");
      }
      next = r.last() + 1;
      epoch = Math.max(epoch, e.getValue());
    }
    if (next != last + 1 || epoch < 0) {
      throw new IllegalArgumentException("volume " + volume + ": log segments " + first + ".." + last
          + " are not all this writer's");
    }
    ByteBuffer s = segment.duplicate();
    LogSegment.stamp(s, last, epoch);
    store.put(Layout.logKey(volume, new LogRef(first, last, epoch)), s);
    appended.put(new Span(first, last), epoch);
  }

  /** Deletes the segments the merged segment {@code [first, last]} replaced (those of this writer inside it). */
  void dropMerged(long first, long last) throws IOException {
    Span merged = new Span(first, last);
    if (!appended.containsKey(merged)) {
      throw new IllegalArgumentException("volume " + volume + ": no merged log segment " + first + ".." + last);
    }
    List<Span> inside = new ArrayList<>();
    List<String> keys = new ArrayList<>();
    for (var e : appended.subMap(new Span(Long.MIN_VALUE, first), true, new Span(Long.MAX_VALUE, last), true)
        .entrySet()) {
      Span r = e.getKey();
      if (r.first() >= first && !r.equals(merged)) {
        inside.add(r);
        keys.add(Layout.logKey(volume, new LogRef(r.first(), r.last(), e.getValue())));
      }
    }
    inside.forEach(appended::remove); // readers of them now fail NOT_FOUND and look again
    delete(keys);
  }

  /**
   * Reads {@code dst.remaining()} bytes at {@code offset} of segment {@code [first, seq]}, which this writer stored,
   * adopted or merged.
   */
  void read(long first, long seq, int offset, ByteBuffer dst) throws IOException {
    Long epoch = appended.get(new Span(first, seq));
    if (epoch == null) {
      throw new StoreException(Kind.NOT_FOUND, "volume " + volume + ": log segment " + first + ".." + seq
          + " was neither stored, adopted nor merged by this writer, or is trimmed or merged");
    }
    String key = Layout.logKey(volume, new LogRef(first, seq, epoch));
    int want = dst.remaining();
    int n = store.read(key, offset, dst);
    if (n < 0) {
      throw new StoreException(Kind.NOT_FOUND, "volume " + volume + ": log segment " + key + " is missing");
    }
    if (n < want) {
      throw new StoreException(Kind.PERMANENT, "volume " + volume + ": log segment " + key + " is shorter than "
          + (offset + (long) want) + " bytes");
    }
  }

  /** Deletes every segment numbered at most {@code throughSeq} (a merged one: its whole range), of any epoch. */
  void trim(long throughSeq) throws IOException {
    List<String> keys = new ArrayList<>();
    for (LogRef r : listed()) {
      if (r.seq() <= throughSeq) {
        keys.add(Layout.logKey(volume, r));
      }
    }
    delete(keys);
    appended.headMap(new Span(Long.MAX_VALUE, throughSeq), true).clear();
  }

  /**
   * Folds the stored log into the chunks of {@code chunks} (a writable handle holding the lease) and empties it;
   * returns the number of segments applied.
   */
  int replay(ChunkStore chunks) throws IOException {
    List<LogRef> all = listed();
    if (all.isEmpty()) {
      return 0;
    }
    long max = 0;
    for (LogRef r : all) {
      max = Math.max(max, r.seq());
    }
    List<LogRef> order = LogRef.replayOrder(all);
    if (order.size() < all.size()) {
      log.warn("volume {}: log replay skips {} of {} segments (a fenced writer's late PUT, or after a gap)", volume,
          all.size() - order.size(), all.size());
    }
    int applied = 0;
    long changed = 0;
    int i = 0;
    while (i < order.size()) {
      TreeMap<Long, List<LogExtent>> byChunk = new TreeMap<>();
      long batch = 0;
      while (i < order.size() && (batch == 0 || batch < BATCH_BYTES)) {
        LogRef r = order.get(i++);
        LogSegment.Decoded d = read(r);
        for (LogExtent e : d.extents()) {
          byChunk.computeIfAbsent(e.chunk(), k -> new ArrayList<>()).add(e);
        }
        batch += d.extents().stream().mapToLong(LogExtent::length).sum() + 1;
        applied++;
      }
      changed += fold(chunks, byChunk);
    }
    List<String> keys = new ArrayList<>(all.size());
    for (LogRef r : all) {
      keys.add(Layout.logKey(volume, r));
    }
    delete(keys);
    nextSeq = max + 1;
    log.info("volume {}: replayed {} log segments into {} chunk writes", volume, applied, changed);
    return applied;
  }

  /**
   * Takes the stored log over as it is (see the class note): the directories of the segments a replay would apply,
   * in that order, without the extents of chunks past the end of {@code chunks} (a writable handle holding the
   * lease, which a log that cannot be adopted is folded into). Throws PERMANENT when a segment is damaged, deleting
   * nothing.
   */
  List<SegmentDirectory> adopt(ChunkStore chunks) throws IOException {
    int chunkSize = chunks.chunkSize();
    long count = (chunks.size() + chunkSize - 1) / chunkSize;
    Map<LogRef, Long> all = sizes();
    if (all.isEmpty()) {
      return List.of();
    }
    List<LogRef> order = LogRef.replayOrder(List.copyOf(all.keySet()));
    long last = order.isEmpty() ? 0 : order.getLast().seq();
    long max = 0;
    for (LogRef r : all.keySet()) {
      max = Math.max(max, r.seq());
    }
    if (max > last) {
      log.warn("volume {}: the log has segments after its last applicable one {} (up to {}); folding it instead of "
          + "adopting it", volume, last, max);
      replay(chunks);
      return List.of();
    }
    List<SegmentDirectory> out = directories(order, all);
    List<String> skipped = new ArrayList<>();
    java.util.Set<LogRef> applied = new java.util.HashSet<>(order);
    for (LogRef r : all.keySet()) {
      if (!applied.contains(r)) {
        skipped.add(Layout.logKey(volume, r));
      }
    }
    if (!skipped.isEmpty()) {
      log.warn("volume {}: the adopted log skips {} of {} segments (a fenced writer's late PUT, after a gap, or "
          + "replaced by a merged segment); deleting them", volume, skipped.size(), all.size());
      delete(skipped);
    }
    List<SegmentDirectory> kept = new ArrayList<>(out.size());
    long extents = 0;
    for (SegmentDirectory d : out) {
      kept.add(within(d, chunkSize, count));
      appended.put(new Span(d.first(), d.seq()), d.epoch());
      extents += d.entries().size();
    }
    nextSeq = max + 1;
    log.info("volume {}: adopted {} log segments ({} extents) without folding them", volume, kept.size(), extents);
    return kept;
  }

  private List<SegmentDirectory> directories(List<LogRef> order, Map<LogRef, Long> sizes) throws IOException {
    List<java.util.concurrent.Future<SegmentDirectory>> reads = new ArrayList<>(order.size());
    java.util.concurrent.Semaphore permits = new java.util.concurrent.Semaphore(PARALLEL_READS);
    try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      for (LogRef r : order) {
        permits.acquireUninterruptibly();
        reads.add(pool.submit(() -> {
          try {
            return directory(r, sizes.get(r));
          } finally {
            permits.release();
          }
        }));
      }
    }
    List<SegmentDirectory> out = new ArrayList<>(order.size());
    for (var f : reads) {
      try {
        out.add(f.get());
      } catch (java.util.concurrent.ExecutionException e) {
        throw e.getCause() instanceof IOException io ? io
            : new StoreException(Kind.PERMANENT, "volume " + volume + ": reading the log failed: " + e.getCause(),
                e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted reading the log");
      }
    }
    return out;
  }

  /** The directory of segment {@code r} of {@code size} bytes (see the class note for the reads). */
  private SegmentDirectory directory(LogRef r, long size) throws IOException {
    String key = Layout.logKey(volume, r);
    try {
      SegmentDirectory d;
      if (size <= WHOLE_READ_BYTES) {
        d = whole(key, size);
      } else {
        ByteBuffer header = range(key, 0, LogSegment.HEADER, size);
        if (!SegmentDirectory.sealed(header)) {
          d = whole(key, size);
        } else {
          ByteBuffer tail = range(key, size - WHOLE_READ_BYTES, WHOLE_READ_BYTES, size);
          long from = SegmentDirectory.directoryOffset(tail, size);
          if (from < size - WHOLE_READ_BYTES) {
            tail = range(key, from, (int) (size - from), size);
          }
          d = SegmentDirectory.parse(header, tail, size, false);
        }
      }
      if (d.seq() != r.seq() || d.epoch() != r.epoch()) {
        throw new LogSegment.DamagedException("header says seq " + d.seq() + " epoch " + d.epoch());
      }
      return d.covering(r.first());
    } catch (LogSegment.DamagedException e) {
      throw damaged(key, e);
    }
  }

  private SegmentDirectory whole(String key, long size) throws IOException, LogSegment.DamagedException {
    ByteBuffer all = range(key, 0, (int) size, size);
    LogSegment.decode(all);
    return SegmentDirectory.parse(all, all, size, true);
  }

  /** Bytes {@code [offset, offset + n)} of segment {@code key}, which LIST said has {@code size} bytes. */
  private ByteBuffer range(String key, long offset, int n, long size) throws IOException {
    ByteBuffer dst = ByteBuffer.allocate(n);
    int got = store.read(key, offset, dst);
    if (got < 0) {
      throw new StoreException(Kind.TRANSIENT, "volume " + volume + ": log segment " + key + " vanished at open");
    }
    if (got < n) {
      throw damaged(key, new LogSegment.DamagedException("shorter than the " + size + " bytes listed"));
    }
    return dst.flip();
  }

  private StoreException damaged(String key, LogSegment.DamagedException e) {
    metrics.checksumMismatch();
    log.error("volume {}: log segment {} is damaged: {}", volume, key, e.getMessage());
    return new StoreException(Kind.PERMANENT, "volume " + volume + ": log segment " + key + " is damaged ("
        + e.getMessage() + "); the volume cannot open until it is restored or removed");
  }

  /** {@code d} without extents of chunks at or past {@code chunks}; an extent past its chunk is damage. */
  private SegmentDirectory within(SegmentDirectory d, int chunkSize, long chunks) throws StoreException {
    List<SegmentDirectory.Entry> in = new ArrayList<>(d.entries().size());
    for (SegmentDirectory.Entry e : d.entries()) {
      if (e.offset() + (long) e.length() > chunkSize) {
        throw new StoreException(Kind.PERMANENT, "volume " + volume + ": log segment " + d.seq()
            + " has an extent past chunk " + e.chunk() + " (+" + e.offset() + " " + e.length() + ")");
      }
      if (e.chunk() < chunks) {
        in.add(e);
      }
    }
    if (in.size() < d.entries().size()) {
      log.warn("volume {}: log segment {} names chunks past the volume's end; skipped", volume, d.seq());
    }
    return new SegmentDirectory(d.seq(), d.epoch(), d.bytes(), List.copyOf(in), d.first());
  }

  private LogSegment.Decoded read(LogRef r) throws IOException {
    String key = Layout.logKey(volume, r);
    Optional<ObjectData> data = store.get(key);
    if (data.isEmpty()) {
      throw new StoreException(Kind.TRANSIENT, "volume " + volume + ": log segment " + key + " vanished during replay");
    }
    try {
      LogSegment.Decoded d = LogSegment.decode(ByteBuffer.wrap(data.get().bytes()));
      if (d.seq() != r.seq() || d.epoch() != r.epoch()) {
        throw new LogSegment.DamagedException("header says seq " + d.seq() + " epoch " + d.epoch());
      }
      return d;
    } catch (LogSegment.DamagedException e) {
      throw damaged(key, e);
    }
  }

  private static long fold(ChunkStore chunks, Map<Long, List<LogExtent>> byChunk) throws IOException {
    int chunkSize = chunks.chunkSize();
    long limit = (chunks.size() + chunkSize - 1) / chunkSize;
    ByteBuffer buf = ByteBuffer.allocate(chunkSize);
    long n = 0;
    for (Map.Entry<Long, List<LogExtent>> c : byChunk.entrySet()) {
      long index = c.getKey();
      if (index >= limit) {
        log.warn("volume {}: log names chunk {} past the volume's end; skipped", chunks.volumeId(), index);
        continue;
      }
      buf.clear();
      if (!chunks.read(index, buf)) {
        java.util.Arrays.fill(buf.array(), (byte) 0);
      }
      for (LogExtent e : c.getValue()) {
        if (e.offset() + (long) e.length() > chunkSize) {
          throw new StoreException(Kind.PERMANENT, "volume " + chunks.volumeId() + ": log extent past chunk "
              + index + " (+" + e.offset() + " " + e.length() + ")");
        }
        ByteBuffer data = e.data();
        if (data == null) {
          java.util.Arrays.fill(buf.array(), e.offset(), e.offset() + e.length(), (byte) 0);
        } else {
          buf.put(e.offset(), data, data.position(), e.length());
        }
      }
      buf.clear();
      chunks.write(index, buf);
      n++;
    }
    return n;
  }

  private void delete(List<String> keys) throws IOException {
    for (int from = 0; from < keys.size(); from += DELETE_PAGE) {
      store.delete(keys.subList(from, Math.min(keys.size(), from + DELETE_PAGE)));
    }
  }
}
