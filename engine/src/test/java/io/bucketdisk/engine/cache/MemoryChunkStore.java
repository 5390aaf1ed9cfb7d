package io.bucketdisk.engine.cache;

import io.bucketdisk.store.ChunkStore;
import io.bucketdisk.store.StoreException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/** An in-memory {@link ChunkStore} for unit tests of the cache logic, with request counters and injected faults. */
public final class MemoryChunkStore implements ChunkStore {
  public final ConcurrentHashMap<Long, byte[]> chunks = new ConcurrentHashMap<>();
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

  @Override
  public boolean read(long index, ByteBuffer dst) {
    byte[] d = chunks.get(index);
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
    byte[] d = chunks.get(index);
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
      deletes.incrementAndGet();
    }
  }

  @Override
  public boolean isStored(long index) {
    return chunks.containsKey(index);
  }

  @Override
  public int depth(long index) {
    return chunks.containsKey(index) ? 1 : 0;
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

  /**
   * What a writable open of the real store hands over: every stored segment's directory, in order (the log a handle
   * over this store finds, as a reopen after a close or a crash would). Empty when read-only.
   */
  @Override
  public List<io.bucketdisk.store.log.SegmentDirectory> adoptedLog() {
    if (readOnly) {
      return List.of();
    }
    List<io.bucketdisk.store.log.SegmentDirectory> out = new java.util.ArrayList<>();
    synchronized (log) {
      for (byte[] seg : log.values()) {
        ByteBuffer b = ByteBuffer.wrap(seg);
        try {
          out.add(io.bucketdisk.store.log.SegmentDirectory.parse(b, b, seg.length, false));
        } catch (io.bucketdisk.store.log.LogSegment.DamagedException e) {
          throw new IllegalStateException(e);
        }
      }
    }
    return out;
  }

  @Override
  public long nextLogSeq() {
    return log.isEmpty() ? 1 : log.lastKey() + 1;
  }

  @Override
  public void appendLog(long seq, ByteBuffer segment) throws IOException {
    if (readOnly) {
      throw new StoreException(StoreException.Kind.PERMANENT, "read-only");
    }
    if (failLog) {
      throw new StoreException(failKind, "injected failure for log segment " + seq);
    }
    maybeFail(-1);
    ByteBuffer s = segment.duplicate();
    io.bucketdisk.store.log.LogSegment.stamp(s, seq, 0);
    byte[] copy = new byte[s.remaining()];
    s.get(copy);
    log.put(seq, copy);
    logAppends.incrementAndGet();
  }

  public final AtomicLong logReads = new AtomicLong();
  final AtomicLong logReadBytes = new AtomicLong();
  /** Flips the first byte of every ranged log read (integrity tests). */
  public volatile boolean corruptLogReads;

  @Override
  public void readLog(long seq, int offset, ByteBuffer dst) throws IOException {
    maybeFail(-1);
    byte[] seg = log.get(seq);
    if (seg == null) {
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
    List<byte[]> segments;
    synchronized (log) {
      segments = new java.util.ArrayList<>(log.values());
    }
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
