package io.bucketdisk.engine.cache;

import io.bucketdisk.store.ChunkStore;
import io.bucketdisk.store.StoreException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/** An in-memory {@link ChunkStore} for unit tests of the cache logic, with request counters and injected faults. */
public final class MemoryChunkStore implements ChunkStore {
  public final ConcurrentHashMap<Long, byte[]> chunks = new ConcurrentHashMap<>();
  /**
   * A clone's source: chunks this volume reads where it has none of its own and did not delete them (depth 2). A
   * delete of such a chunk masks it, as the real store's tombstone does.
   */
  public final ConcurrentHashMap<Long, byte[]> parent = new ConcurrentHashMap<>();
  private final Set<Long> masked = ConcurrentHashMap.newKeySet();
  final AtomicLong reads = new AtomicLong();
  final AtomicLong rangeReads = new AtomicLong();
  public final AtomicLong writes = new AtomicLong();
  final AtomicLong deletes = new AtomicLong();
  public final AtomicLong deleteCalls = new AtomicLong();
  /** Fail the next N writes/deletes with a transient StoreException. */
  public final AtomicInteger failNext = new AtomicInteger();
  public volatile boolean failAll;
  /** The kind of the injected failures: CONFLICT is what a fenced handle (lease lost) throws. */
  public volatile StoreException.Kind failKind = StoreException.Kind.TRANSIENT;
  public volatile long writeDelayMillis;
  /** Latency of every GET, to let readers and read-ahead overlap as they do against S3. */
  public volatile long readDelayMillis;
  final AtomicInteger concurrentSameChunk = new AtomicInteger();
  private final Set<Long> inFlight = ConcurrentHashMap.newKeySet();
  private final String id;
  private final long size;
  private final int chunkSize;
  private final boolean readOnly;
  public volatile int snapshots;

  public MemoryChunkStore(String id, long size, int chunkSize, boolean readOnly) {
    this.id = id;
    this.size = size;
    this.chunkSize = chunkSize;
    this.readOnly = readOnly;
  }

  long requests() {
    return reads.get() + rangeReads.get() + writes.get() + deleteCalls.get();
  }

  /** The stored contents of the volume (zeros where absent). */
  public byte[] image() {
    byte[] out = new byte[(int) size];
    chunks.forEach((i, d) -> System.arraycopy(d, 0, out, (int) (i * chunkSize),
        (int) Math.min(chunkSize, size - i * chunkSize)));
    return out;
  }

  @Override
  public String volumeId() {
    return id;
  }

  @Override
  public long size() {
    return size;
  }

  @Override
  public int chunkSize() {
    return chunkSize;
  }

  @Override
  public boolean readOnly() {
    return readOnly;
  }

  private byte @Nullable [] visible(long index) {
    byte[] d = chunks.get(index);
    return d != null || masked.contains(index) ? d : parent.get(index);
  }

  @Override
  public boolean read(long index, ByteBuffer dst) {
    byte[] d = visible(index);
    if (d == null) {
      return false;
    }
    reads.incrementAndGet();
    sleep(readDelayMillis);
    dst.put(d, 0, chunkSize);
    return true;
  }

  @Override
  public boolean readRange(long index, int offsetInChunk, ByteBuffer dst) {
    byte[] d = visible(index);
    if (d == null) {
      return false;
    }
    rangeReads.incrementAndGet();
    sleep(readDelayMillis);
    dst.put(d, offsetInChunk, dst.remaining());
    return true;
  }

  private static void sleep(long millis) {
    if (millis > 0) {
      try {
        Thread.sleep(millis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void maybeFail(long index) throws IOException {
    if (failAll || failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      throw new StoreException(failKind, "injected failure for chunk " + index);
    }
    long delay = writeDelayMillis;
    if (delay > 0) {
      try {
        Thread.sleep(delay);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(e);
      }
    }
  }

  @Override
  public void write(long index, ByteBuffer data) throws IOException {
    if (readOnly) {
      throw new StoreException(StoreException.Kind.PERMANENT, "read-only");
    }
    if (!inFlight.add(index)) {
      concurrentSameChunk.incrementAndGet();
    }
    try {
      maybeFail(index);
      byte[] copy = new byte[chunkSize];
      data.get(copy);
      chunks.put(index, copy);
      masked.remove(index);
      writes.incrementAndGet();
    } finally {
      inFlight.remove(index);
    }
  }

  @Override
  public void delete(long[] indexes, int count) throws IOException {
    maybeFail(indexes[0]);
    deleteCalls.incrementAndGet();
    for (int i = 0; i < count; i++) {
      chunks.remove(indexes[i]);
      if (parent.containsKey(indexes[i])) {
        masked.add(indexes[i]);
      }
      deletes.incrementAndGet();
    }
  }

  @Override
  public boolean isStored(long index) {
    return visible(index) != null;
  }

  @Override
  public int depth(long index) {
    return chunks.containsKey(index) ? 1 : visible(index) != null ? 2 : 0;
  }

  @Override
  public void snapshot(String snapshotId) {
    snapshots++;
  }

  @Override
  public void refresh() {}

  /** The stored log segments by number (stamped, as the store keeps them). */
  public final java.util.concurrent.ConcurrentSkipListMap<Long, byte[]> log =
      new java.util.concurrent.ConcurrentSkipListMap<>();
  public final AtomicLong logAppends = new AtomicLong();
  /** The writer tenure handles over this store report (null: none, as a read-only handle). */
  public volatile ChunkStore.@Nullable Tenure tenure;

  @Override
  public ChunkStore.@Nullable Tenure tenure() {
    return readOnly ? null : tenure;
  }
  public volatile boolean failLog;
  /** When set, a log append counts {@link #logEntered} down and waits for it before it stores anything. */
  public volatile java.util.concurrent.@Nullable CountDownLatch logHold;
  public final java.util.concurrent.CountDownLatch logEntered = new java.util.concurrent.CountDownLatch(1);
  /** Merged segments by range (epoch 0), stamped; the originals stay in {@link #log} until {@link #dropMerged}. */
  public final java.util.concurrent.ConcurrentSkipListMap<io.bucketdisk.store.log.LogRef, byte[]> merged =
      new java.util.concurrent.ConcurrentSkipListMap<>(java.util.Comparator
          .comparingLong(io.bucketdisk.store.log.LogRef::seq).thenComparingLong(io.bucketdisk.store.log.LogRef::first));
  public final AtomicLong logMerges = new AtomicLong();
  /** Bytes of every log segment stored: appended and merged. */
  public final AtomicLong logBytes = new AtomicLong();
  /** {@link #dropMerged} deletes nothing: what a crash between a merged PUT and its deletes leaves. */
  public volatile boolean keepMergedOriginals;

  /** Stored segments, merged ones and originals not yet deleted included. */
  public int segments() {
    synchronized (log) {
      return log.size() + merged.size();
    }
  }

  /** Stored segments a replay or an adoption takes (originals a merged one replaced are not counted). */
  public int replayedSegments() {
    return replayed().size();
  }

  /** The stored segments a replay or an adoption takes, in order, with their bytes. */
  private List<Map.Entry<io.bucketdisk.store.log.LogRef, byte[]>> replayed() {
    synchronized (log) {
      Map<io.bucketdisk.store.log.LogRef, byte[]> all = new java.util.HashMap<>(merged);
      log.forEach((seq, seg) -> all.put(new io.bucketdisk.store.log.LogRef(seq, 0), seg));
      List<Map.Entry<io.bucketdisk.store.log.LogRef, byte[]>> out = new java.util.ArrayList<>();
      for (var r : io.bucketdisk.store.log.LogRef.replayOrder(List.copyOf(all.keySet()))) {
        out.add(Map.entry(r, all.get(r)));
      }
      return out;
    }
  }

  /**
   * What a writable open of the real store hands over: every stored segment's directory, in order (the log a handle
   * over this store finds, as a reopen after a close or a crash would). Empty when read-only.
   */
  @Override
  public List<io.bucketdisk.store.log.SegmentDirectory> takeAdoptedLog() {
    if (readOnly) {
      return List.of();
    }
    List<io.bucketdisk.store.log.SegmentDirectory> out = new java.util.ArrayList<>();
    synchronized (log) {
      var order = replayed();
      for (var r : order) {
        ByteBuffer b = ByteBuffer.wrap(r.getValue());
        try {
          out.add(io.bucketdisk.store.log.SegmentDirectory.parse(b, b, r.getValue().length, false)
              .covering(r.getKey().first()));
        } catch (io.bucketdisk.store.log.LogSegment.DamagedException e) {
          throw new IllegalStateException(e);
        }
      }
      // as the real store's adoption: segments the order skips (inside a merged one) are deleted
      var taken = order.stream().map(Map.Entry::getKey).collect(java.util.stream.Collectors.toSet());
      log.keySet().removeIf(seq -> !taken.contains(new io.bucketdisk.store.log.LogRef(seq, 0)));
      merged.keySet().removeIf(r -> !taken.contains(r));
    }
    return out;
  }

  @Override
  public long nextLogSeq() {
    long last = Math.max(log.isEmpty() ? 0 : log.lastKey(), merged.isEmpty() ? 0 : merged.lastKey().seq());
    return last + 1;
  }

  @Override
  public void appendLog(long seq, ByteBuffer segment) throws IOException {
    if (readOnly) {
      throw new StoreException(StoreException.Kind.PERMANENT, "read-only");
    }
    if (failLog) {
      throw new StoreException(failKind, "injected failure for log segment " + seq);
    }
    java.util.concurrent.CountDownLatch hold = logHold;
    if (hold != null) {
      logEntered.countDown();
      try {
        hold.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException();
      }
    }
    maybeFail(-1);
    ByteBuffer s = segment.duplicate();
    io.bucketdisk.store.log.LogSegment.stamp(s, seq, 0);
    byte[] copy = new byte[s.remaining()];
    s.get(copy);
    log.put(seq, copy);
    logAppends.incrementAndGet();
    logBytes.addAndGet(copy.length);
  }

  @Override
  public void mergeLog(long first, long last, ByteBuffer segment) throws IOException {
    if (readOnly) {
      throw new StoreException(StoreException.Kind.PERMANENT, "read-only");
    }
    if (failLog) {
      throw new StoreException(failKind, "injected failure for merged log segment " + first + ".." + last);
    }
    maybeFail(-1);
    ByteBuffer s = segment.duplicate();
    io.bucketdisk.store.log.LogSegment.stamp(s, last, 0);
    byte[] copy = new byte[s.remaining()];
    s.get(copy);
    merged.put(new io.bucketdisk.store.log.LogRef(first, last, 0), copy);
    logMerges.incrementAndGet();
    logBytes.addAndGet(copy.length);
  }

  @Override
  public void dropMerged(long first, long last) {
    if (keepMergedOriginals) {
      return;
    }
    synchronized (log) {
      log.subMap(first, true, last, true).clear();
      merged.keySet().removeIf(r -> r.first() >= first && r.seq() <= last && (r.first() != first || r.seq() != last));
    }
  }

  @Override
  public void readLog(long first, long last, int offset, ByteBuffer dst) throws IOException {
    if (first == last) {
      readLog(last, offset, dst);
      return;
    }
    beforeLogRead.run();
    maybeFail(-1);
    byte[] seg = merged.get(new io.bucketdisk.store.log.LogRef(first, last, 0));
    if (seg == null) {
      logReadMisses.incrementAndGet();
      throw new StoreException(StoreException.Kind.NOT_FOUND, "log segment " + first + ".." + last + " is gone");
    }
    int at = dst.position();
    dst.put(seg, offset, dst.remaining());
    if (corruptLogReads) {
      dst.put(at, (byte) (dst.get(at) ^ 1));
    }
    logReads.incrementAndGet();
  }

  public final AtomicLong logReads = new AtomicLong();
  final AtomicLong logReadBytes = new AtomicLong();
  /** Log reads of a segment that is gone (trimmed, or dropped after a merge). */
  public final AtomicLong logReadMisses = new AtomicLong();
  /** Runs before every log read (race tests). */
  public volatile Runnable beforeLogRead = () -> {};
  /** Flips the first byte of every ranged log read (integrity tests). */
  public volatile boolean corruptLogReads;

  @Override
  public void readLog(long seq, int offset, ByteBuffer dst) throws IOException {
    beforeLogRead.run();
    maybeFail(-1);
    byte[] seg = log.get(seq);
    if (seg == null) {
      logReadMisses.incrementAndGet();
      throw new StoreException(StoreException.Kind.NOT_FOUND, "log segment " + seq + " is trimmed");
    }
    int at = dst.position();
    logReadBytes.addAndGet(dst.remaining());
    dst.put(seg, offset, dst.remaining());
    if (corruptLogReads) {
      dst.put(at, (byte) (dst.get(at) ^ 1));
    }
    logReads.incrementAndGet();
  }

  @Override
  public void trimLog(long throughSeq) {
    synchronized (log) { // a listing sees a trim whole or not at all, as one LIST of a real store would
      log.headMap(throughSeq, true).clear();
      merged.keySet().removeIf(r -> r.seq() <= throughSeq);
    }
  }

  /** The chunks that hold data after a replay (what a crash and a reopen would show), in order. */
  public java.util.SortedSet<Long> durableChunks() throws Exception {
    byte[] img = imageAfterReplay();
    java.util.SortedSet<Long> out = new java.util.TreeSet<>();
    for (long i = 0; i * chunkSize < size; i++) {
      int from = (int) (i * chunkSize);
      int to = (int) Math.min(size, from + (long) chunkSize);
      for (int k = from; k < to; k++) {
        if (img[k] != 0) {
          out.add(i);
          break;
        }
      }
    }
    return out;
  }

  /** What a crash and a reopen would show: the chunks with every stored segment applied in order. */
  public byte[] imageAfterReplay() throws Exception {
    // the log before the chunks: a segment deleted meanwhile was folded into them (see DurableImage)
    List<byte[]> segments = replayed().stream().map(Map.Entry::getValue).toList();
    byte[] img = image();
    for (byte[] seg : segments) {
      var d = io.bucketdisk.store.log.LogSegment.decode(ByteBuffer.wrap(seg));
      for (var e : d.extents()) {
        int at = (int) (e.chunk() * chunkSize + e.offset());
        if (e.data() == null) {
          java.util.Arrays.fill(img, at, at + e.length(), (byte) 0);
        } else {
          e.data().duplicate().get(img, at, e.length());
        }
      }
    }
    return img;
  }

  @Override
  public void close() {}
}
