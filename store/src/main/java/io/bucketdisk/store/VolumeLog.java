package io.bucketdisk.store;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.log.LogExtent;
import io.bucketdisk.store.log.LogRef;
import io.bucketdisk.store.log.LogSegment;
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
 * stored and trimmed, and the replay that folds what a previous writer left into the chunk objects when a writable
 * handle opens.
 *
 * <p><b>Replay.</b> The segments {@link LogRef#replayOrder} accepts are read in batches (at most {@link #BATCH_BYTES}
 * of segments at a time); every chunk a batch touches is read, gets the batch's extents in log order, and is written
 * back through the {@link ChunkStore}. A chunk object so written holds only logged state, so replaying again after a
 * crash in the middle gives the same result. Then every listed segment is deleted (skipped ones too: a fenced
 * writer's late PUT, or segments after a gap) and the new writer numbers its segments after the highest one seen.
 *
 * <p>Thread safe: {@link #append} and {@link #trim} are called by one writer at a time per sequence number.
 */
final class VolumeLog {
  private static final Logger log = LoggerFactory.getLogger(VolumeLog.class);
  static final long BATCH_BYTES = 64L << 20;
  private static final int DELETE_PAGE = 1000;

  private final ObjectStore store;
  private final String volume;
  private final String prefix;
  private final StoreMetrics metrics;
  private volatile long nextSeq = 1;
  /** The epoch each segment this writer stored went out under, until trimmed (a snapshot moves the epoch). */
  private final java.util.concurrent.ConcurrentSkipListMap<Long, Long> appended =
      new java.util.concurrent.ConcurrentSkipListMap<>();

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
    List<LogRef> out = new ArrayList<>();
    String token = null;
    do {
      ListPage page = store.list(prefix, token, 1000);
      for (ObjectInfo o : page.objects()) {
        long seq = Layout.logSeq(o.key(), prefix.length());
        long epoch = Layout.logEpoch(o.key(), prefix.length());
        if (seq >= 0 && epoch >= 0) {
          out.add(new LogRef(seq, epoch));
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
    appended.put(seq, epoch);
    nextSeq = Math.max(nextSeq, seq + 1);
  }

  /** Reads {@code dst.remaining()} bytes at {@code offset} of segment {@code seq}, which this writer stored. */
  void read(long seq, int offset, ByteBuffer dst) throws IOException {
    Long epoch = appended.get(seq);
    if (epoch == null) {
      throw new StoreException(Kind.NOT_FOUND, "volume " + volume + ": log segment " + seq
          + " was not stored by this writer or is trimmed");
    }
    String key = Layout.logKey(volume, seq, epoch);
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

  /** Deletes every segment numbered at most {@code throughSeq}, of any epoch. */
  void trim(long throughSeq) throws IOException {
    List<String> keys = new ArrayList<>();
    for (LogRef r : listed()) {
      if (r.seq() <= throughSeq) {
        keys.add(Layout.logKey(volume, r.seq(), r.epoch()));
      }
    }
    delete(keys);
    appended.headMap(throughSeq, true).clear();
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
      keys.add(Layout.logKey(volume, r.seq(), r.epoch()));
    }
    delete(keys);
    nextSeq = max + 1;
    log.info("volume {}: replayed {} log segments into {} chunk writes", volume, applied, changed);
    return applied;
  }

  private LogSegment.Decoded read(LogRef r) throws IOException {
    String key = Layout.logKey(volume, r.seq(), r.epoch());
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
      metrics.checksumMismatch();
      log.error("volume {}: log segment {} is damaged: {}", volume, key, e.getMessage());
      throw new StoreException(Kind.PERMANENT, "volume " + volume + ": log segment " + key + " is damaged ("
          + e.getMessage() + "); the volume cannot open until it is restored or removed");
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
