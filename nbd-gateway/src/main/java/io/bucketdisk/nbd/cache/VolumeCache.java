package io.bucketdisk.nbd.cache;

import io.bucketdisk.store.ChunkStore;
import io.bucketdisk.store.outage.Outage;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One open volume's write-back cache over its {@link ChunkStore}: the NBD verbs at chunk granularity.
 *
 * <p><b>Where a chunk lives.</b> Each chunk index is in at most one of: the dirty map (pinned, not evictable),
 * the shared clean chunks ({@link RecentChunks} after a load, Caffeine after that or after an upload; evictable), a
 * load in flight, or nowhere (the store has it, or it reads as zeros). Transitions into and out of the dirty map happen inside {@code dirty.compute*} for that index, so they
 * are atomic with respect to each other:
 * <ul>
 *   <li>clean or absent → dirty: a write, trim or zero; takes the clean buffer out of the clean chunks (or starts an empty
 *       one: a partial write to an uncached chunk records only its range, see {@link ValidRanges}).</li>
 *   <li>dirty → clean: only {@link #uploaded} after the store acknowledged the PUT/DELETE of exactly the current
 *       version; a change after the upload's snapshot keeps the chunk dirty.</li>
 * </ul>
 * Every such transition bumps a per-index stripe counter; a load records the counter before it looks anywhere and
 * publishes its result only if the counter did not move, so a stale load never overwrites newer data.
 *
 * <p><b>Lock order.</b> dirty-map bin lock → {@link ChunkBuffer} monitor → Caffeine / limiter internals. A
 * thread holding a buffer monitor never enters {@code dirty.compute}.
 *
 * <p><b>Durability contract</b> (NBD spec "FLUSH", "FUA"; kept by {@link WriteBackFlusher}). A write returns once
 * its bytes are in a dirty buffer. {@link #flush} snapshots, for every dirty chunk, the version it has when the flush
 * starts — which includes every write that completed before, on any connection, because a write bumps the version
 * before it returns — and returns only when each chunk's acknowledged (durable) version reached it. Uploads already
 * in flight count, so concurrent flushes share uploads instead of queueing behind each other, and a flush with
 * nothing dirty makes no store request. A FUA write waits the same way for its own chunks only. An upload that fails
 * (after the store's own retries) leaves the chunk dirty and fails every flush waiting for it with EIO; every later
 * flush retries the upload and fails again while the store refuses it. Nothing dirty is ever dropped, except by
 * {@link #close} after a final failed flush, which is logged as an error with the number of chunks lost.
 *
 * <p>Thread safe.
 */
public final class VolumeCache implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(VolumeCache.class);
  private static final int STRIPES = 4096;
  private static final int MAX_ATTEMPTS = 10_000;
  private static final int STREAMS = 8;

  final ChunkStore store;
  final ChunkCache shared;
  final int chunkSize;
  private final int chunkShift;
  final String volumeId;
  private final Outage uploads;
  final ConcurrentHashMap<Long, ChunkBuffer> dirty = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Long, CompletableFuture<LoadResult>> loading = new ConcurrentHashMap<>();
  private final AtomicLongArray stripes = new AtomicLongArray(STRIPES);
  final VolumeCounters counters = new VolumeCounters();
  /** Uploads hold the read side around store calls; a snapshot holds the write side. */
  final ReentrantReadWriteLock epochLock = new ReentrantReadWriteLock();
  final WriteBackFlusher flusher;
  private final AtomicInteger prefetching = new AtomicInteger();
  /** Sequential read streams seen lately (several readers, e.g. {@code nbdcopy -C 4}): last chunk, run, use tick. */
  private final long[] streamLast = new long[STREAMS];
  private final int[] streamRun = new int[STREAMS];
  private final long[] streamUsed = new long[STREAMS];
  private long streamTick;
  private volatile boolean closed;

  /** A finished load: the chunk's bytes (null: reads as zeros), or stale (retry). */
  private record LoadResult(byte @Nullable [] data, boolean stale) {}

  public VolumeCache(ChunkStore store, ChunkCache shared) {
    this.store = store;
    this.shared = shared;
    this.chunkSize = store.chunkSize();
    if (Integer.bitCount(chunkSize) != 1) {
      throw new IllegalArgumentException("chunk size must be a power of two: " + chunkSize);
    }
    this.chunkShift = Integer.numberOfTrailingZeros(chunkSize);
    this.volumeId = store.volumeId();
    this.uploads = new Outage(log, "volume " + volumeId);
    java.util.Arrays.fill(streamLast, -2);
    this.flusher = new WriteBackFlusher(this);
    flusher.start();
  }

  public String volumeId() {
    return volumeId;
  }

  public ChunkStore store() {
    return store;
  }

  public long size() {
    return store.size();
  }

  public int chunkSize() {
    return chunkSize;
  }

  public VolumeCounters counters() {
    return counters;
  }

  /** Bytes of dirty chunk data (zeroed chunks weigh nothing). */
  public long dirtyBytes() {
    long n = 0;
    for (ChunkBuffer b : dirty.values()) {
      synchronized (b) {
        if (b.dirty && b.data != null) {
          n += chunkSize;
        }
      }
    }
    return n;
  }

  /** Number of chunks not yet durable (data and zeroed). */
  public int dirtyChunks() {
    int n = 0;
    for (ChunkBuffer b : dirty.values()) {
      synchronized (b) {
        n += b.dirty ? 1 : 0;
      }
    }
    return n;
  }

  /** Age of the oldest change not yet durable, 0 when nothing is dirty. */
  public long oldestDirtyAgeNanos() {
    long now = System.nanoTime();
    long oldest = 0;
    for (ChunkBuffer b : dirty.values()) {
      synchronized (b) {
        if (b.durableVersion < b.version) {
          oldest = Math.max(oldest, now - b.dirtySinceNanos);
        }
      }
    }
    return oldest;
  }

  // ---------------------------------------------------------------- read

  /** Reads {@code dst.remaining()} bytes at {@code offset}. */
  public void read(long offset, ByteBuffer dst) throws IOException {
    checkOpen();
    long pos = offset;
    noteRead(offset >>> chunkShift, (offset + dst.remaining() - 1) >>> chunkShift);
    while (dst.hasRemaining()) {
      long index = pos >>> chunkShift;
      int off = (int) (pos & (chunkSize - 1));
      int n = Math.min(chunkSize - off, dst.remaining());
      readPiece(index, off, n, dst);
      pos += n;
    }
  }

  private void readPiece(long index, int off, int n, ByteBuffer dst) throws IOException {
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      long stamp = stamp(index);
      ChunkBuffer b = dirty.get(index);
      if (b != null) {
        synchronized (b) {
          if (b.dirty && b.valid.covers(off, off + n)) {
            b.copyTo(off, n, dst);
            counters.hits.increment();
            return;
          }
        }
        merge(b);
        settle(index);
        continue;
      }
      ChunkCache.Key key = new ChunkCache.Key(this, index);
      ChunkBuffer c = shared.recent.get(key);
      if (c == null) {
        c = shared.clean.getIfPresent(key);
      }
      if (c != null) {
        synchronized (c) {
          c.copyTo(off, n, dst);
        }
        counters.hits.increment();
        return;
      }
      if (!store.isStored(index)) {
        Zeros.fill(dst, n);
        return;
      }
      counters.misses.increment();
      LoadResult r = load(index, stamp);
      if (r.stale()) {
        continue;
      }
      byte[] data = r.data();
      if (data == null) {
        Zeros.fill(dst, n);
      } else {
        dst.put(data, off, n);
      }
      return;
    }
    throw new IOException("volume " + volumeId + " chunk " + index + ": read did not settle under concurrent writes: "
        + dirty.get(index));
  }

  private LoadResult load(long index, long stamp) throws IOException {
    CompletableFuture<LoadResult> f = loading.get(index);
    if (f == null) {
      CompletableFuture<LoadResult> mine = new CompletableFuture<>();
      f = loading.putIfAbsent(index, mine);
      if (f == null) {
        if (cached(index)) {
          // another load published it between this reader's look and its claim: read that, fetch nothing
          loading.remove(index, mine);
          return new LoadResult(null, true);
        }
        runLoad(index, stamp, mine, false);
        f = mine;
      }
    }
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted reading volume " + volumeId + " chunk " + index);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      throw cause instanceof IOException io
          ? new IOException("volume " + volumeId + " chunk " + index + ": " + io.getMessage(), io)
          : new IOException("volume " + volumeId + " chunk " + index + ": load failed", cause);
    }
  }

  /**
   * Loads chunk {@code index} and completes {@code f}; publishes it as a recent clean chunk only if nothing changed
   * since {@code stamp}. A {@code readAhead} chunk counts as unread until a reader hits it.
   */
  private void runLoad(long index, long stamp, CompletableFuture<LoadResult> f, boolean readAhead) {
    boolean permit = false;
    boolean counted = false;
    try {
      shared.loads.acquire();
      permit = true;
      shared.loadingBytes.addAndGet(chunkSize);
      counted = true;
      byte[] data = new byte[chunkSize];
      boolean stored;
      try {
        stored = store.read(index, ByteBuffer.wrap(data));
      } catch (IOException | RuntimeException e) {
        counters.failures.increment();
        throw e;
      }
      if (stored) {
        counters.gets.increment();
        counters.bytesDown.add(chunkSize);
      }
      byte[] result = stored ? data : null;
      boolean[] fresh = {false};
      List<RecentChunks.Evicted> out = new ArrayList<>(0);
      // the buffer stops counting as a load before it can count as a clean chunk: never both at once
      shared.loadingBytes.addAndGet(-chunkSize);
      counted = false;
      dirty.compute(index, (k, cur) -> {
        if (cur == null && stamp(k) == stamp) {
          fresh[0] = true;
          ChunkCache.Key key = new ChunkCache.Key(this, k);
          if (result != null && !shared.clean.asMap().containsKey(key)) {
            out.addAll(shared.recent.put(key, ChunkBuffer.clean(k, result), stamp, readAhead));
          }
        }
        return cur;
      });
      loading.remove(index, f);
      f.complete(new LoadResult(result, !fresh[0]));
      for (RecentChunks.Evicted e : out) {
        e.key().volume().demote(e);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      loading.remove(index, f);
      f.completeExceptionally(new InterruptedIOException("interrupted loading chunk " + index));
    } catch (Throwable e) {
      loading.remove(index, f);
      f.completeExceptionally(e);
    } finally {
      if (counted) {
        shared.loadingBytes.addAndGet(-chunkSize);
      }
      if (permit) {
        shared.loads.release();
      }
    }
  }

  /**
   * A chunk left {@link RecentChunks}: offer it to Caffeine, unless it changed since it was loaded (stripe stamp) or
   * the volume closed. Runs inside {@code dirty.compute} for the chunk, like every clean/dirty transition.
   */
  void demote(RecentChunks.Evicted e) {
    dirty.compute(e.key().index(), (k, cur) -> {
      if (cur == null && !closed && stamp(k) == e.stamp()) {
        shared.clean.asMap().putIfAbsent(e.key(), e.buffer());
      }
      return cur;
    });
  }

  /** Whether chunk {@code index} is held clean (recent or Caffeine), without counting it as a use. */
  private boolean cached(long index) {
    ChunkCache.Key key = new ChunkCache.Key(this, index);
    return shared.recent.contains(key) || shared.clean.asMap().containsKey(key);
  }

  /**
   * Starts a background load of {@code index} unless it is cached, dirty, loading or absent, too many run, or the
   * recent-chunk space is a quarter full of read-ahead nobody has read yet: the rest is for the chunks readers are in
   * (more would push out chunks before their read).
   */
  private void prefetch(long index) {
    long stamp = stamp(index);
    if (index < 0 || (index << chunkShift) >= size() || dirty.containsKey(index) || loading.containsKey(index)
        || cached(index) || !store.isStored(index)) {
      return;
    }
    if (prefetching.get() + shared.recent.unread() >= shared.recent.capacityBytes() / 4 / chunkSize) {
      return;
    }
    if (prefetching.incrementAndGet() > 2 * Math.max(1, shared.config.readAheadChunks())) {
      prefetching.decrementAndGet();
      return;
    }
    CompletableFuture<LoadResult> mine = new CompletableFuture<>();
    if (loading.putIfAbsent(index, mine) != null) {
      prefetching.decrementAndGet();
      return;
    }
    counters.readAheads.increment();
    Thread.ofVirtual().name("prefetch-" + volumeId + "-" + index).start(() -> {
      try {
        runLoad(index, stamp, mine, true);
      } finally {
        prefetching.decrementAndGet();
      }
    });
  }

  /**
   * Finds the stream a read of chunks {@code [first, last]} continues (it starts within a chunk of where that stream
   * was; requests in flight together arrive in any order) or replaces the least recently used one; a stream that
   * reached a new chunk prefetches the {@code readAheadChunks} after it.
   */
  private void noteRead(long first, long last) {
    int ahead = shared.config.readAheadChunks();
    if (ahead <= 0) {
      return;
    }
    boolean advanced;
    synchronized (streamLast) {
      int slot = -1;
      int lru = 0;
      for (int i = 0; i < STREAMS; i++) {
        if (first >= streamLast[i] - 1 && first <= streamLast[i] + 1) {
          slot = i;
          break;
        }
        if (streamUsed[i] < streamUsed[lru]) {
          lru = i;
        }
      }
      if (slot < 0) {
        slot = lru;
        streamRun[slot] = 0;
        streamLast[slot] = last;
        advanced = false;
      } else {
        streamRun[slot]++;
        advanced = last > streamLast[slot] || streamRun[slot] == 1;
        streamLast[slot] = Math.max(streamLast[slot], last);
      }
      streamUsed[slot] = ++streamTick;
      last = streamLast[slot];
    }
    if (advanced) {
      for (long i = last + 1; i <= last + ahead; i++) {
        prefetch(i);
      }
    }
  }

  /** NBD CACHE: loads the chunks of the range (at most the recent-chunk space, half the clean budget) and waits. */
  public void cache(long offset, long length) throws IOException {
    checkOpen();
    if (length <= 0) {
      return;
    }
    long first = offset >>> chunkShift;
    long last = (offset + length - 1) >>> chunkShift;
    long budget = Math.max(1, shared.recent.capacityBytes() / chunkSize);
    last = Math.min(last, first + budget - 1);
    List<CompletableFuture<LoadResult>> pending = new ArrayList<>();
    for (long i = first; i <= last; i++) {
      long stamp = stamp(i);
      if (dirty.containsKey(i) || cached(i) || !store.isStored(i)) {
        continue;
      }
      CompletableFuture<LoadResult> mine = new CompletableFuture<>();
      CompletableFuture<LoadResult> existing = loading.putIfAbsent(i, mine);
      if (existing != null) {
        pending.add(existing);
        continue;
      }
      counters.readAheads.increment();
      long index = i;
      Thread.ofVirtual().name("cache-" + volumeId + "-" + i).start(() -> runLoad(index, stamp, mine, false));
      pending.add(mine);
    }
    for (CompletableFuture<LoadResult> f : pending) {
      try {
        f.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted");
      } catch (ExecutionException e) {
        // CACHE is advisory (NBD spec "NBD_CMD_CACHE"): a failed prefetch changes nothing for later I/O.
        log.debug("volume {} prefetch failed: {}", volumeId, e.getCause().toString());
      }
    }
  }

  /** Fills the ranges of a dirty buffer that no write covered, from the store (or zeros when it has nothing). */
  void merge(ChunkBuffer b) throws IOException {
    int missing;
    int firstStart = 0;
    int firstEnd = 0;
    synchronized (b) {
      if (!b.dirty || b.data == null || b.valid.isFull()) {
        return;
      }
      missing = b.valid.missingCount();
      int[] first = new int[2];
      b.valid.forEachMissing((s, e) -> {
        if (first[1] == 0) {
          first[0] = s;
          first[1] = e;
        }
      });
      firstStart = first[0];
      firstEnd = first[1];
    }
    if (!store.isStored(b.index)) {
      // A partial buffer's array is zero wherever no write landed, and the store reads as zeros: nothing to fetch.
      synchronized (b) {
        if (b.dirty && b.data != null) {
          b.valid.setFull();
        }
      }
      return;
    }
    ScratchChunks pool = shared.pool(chunkSize);
    byte[] scratch;
    try {
      scratch = pool.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted");
    }
    try {
      boolean stored;
      try {
        if (missing == 1) {
          stored = store.readRange(b.index, firstStart, ByteBuffer.wrap(scratch, firstStart, firstEnd - firstStart));
          counters.rangeGets.increment();
          counters.bytesDown.add(firstEnd - firstStart);
        } else {
          stored = store.read(b.index, ByteBuffer.wrap(scratch, 0, chunkSize));
          counters.gets.increment();
          counters.bytesDown.add(chunkSize);
        }
      } catch (IOException | RuntimeException e) {
        counters.failures.increment();
        throw e;
      }
      synchronized (b) {
        byte[] d = b.data;
        if (!b.dirty || d == null || b.valid.isFull()) {
          return;
        }
        if (stored) {
          // writes only add valid bytes, so what is missing now lies within what was fetched
          b.valid.forEachMissing((s, e) -> System.arraycopy(scratch, s, d, s, e - s));
        }
        b.valid.setFull();
      }
    } finally {
      pool.give(scratch);
    }
  }

  // ---------------------------------------------------------------- write, trim, zero

  /** Writes {@code src.remaining()} bytes at {@code offset}; with {@code fua}, returns once they are durable. */
  public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
    checkOpen();
    @Nullable List<WriteBackFlusher.Target> touched = fua ? new ArrayList<>() : null;
    long pos = offset;
    while (src.hasRemaining()) {
      long index = pos >>> chunkShift;
      int off = (int) (pos & (chunkSize - 1));
      int n = Math.min(chunkSize - off, src.remaining());
      writePiece(index, off, n, src, touched);
      pos += n;
    }
    if (touched != null) {
      counters.flushes.increment();
      flusher.awaitDurable(touched);
    }
  }

  /**
   * Writes {@code n} bytes of {@code src} (or zeros when {@code src} is null) at {@code off} in chunk {@code index}.
   */
  private void writePiece(long index, int off, int n, @Nullable ByteBuffer src,
      @Nullable List<WriteBackFlusher.Target> touched) throws IOException {
    boolean reserved = false;
    try {
      for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        ChunkBuffer b = dirty.get(index);
        if (b == null) {
          if (!reserved) {
            reserve();
            reserved = true;
          }
          boolean[] created = {false};
          b = dirty.computeIfAbsent(index, k -> {
            created[0] = true;
            return becomeDirty(k, true);
          });
          if (created[0]) {
            reserved = false;
          }
        }
        boolean full;
        boolean needBudget = false;
        boolean needSettle = false;
        synchronized (b) {
          if (!b.dirty) {
            needSettle = true;
          } else if (b.data == null) {
            // a zeroed chunk (reads as zeros, fully valid) gets real bytes: it needs a chunk of dirty budget,
            // and nobody waits for budget while holding a buffer monitor
            if (reserved) {
              b.data = new byte[chunkSize];
              b.charged = true;
              reserved = false;
            } else {
              needBudget = true;
            }
          }
          byte[] d = needSettle ? null : b.data;
          if (d == null) {
            full = false;
          } else {
            if (src != null) {
              src.get(d, off, n);
            } else {
              java.util.Arrays.fill(d, off, off + n, (byte) 0);
            }
            boolean wasFull = b.valid.isFull();
            b.valid.add(off, off + n);
            touch(b);
            if (touched != null) {
              touched.add(new WriteBackFlusher.Target(b, b.version, b.attemptSeq));
            }
            // a chunk that this write completed is likely done (sequential writers): upload it now
            full = !wasFull && b.valid.isFull();
          }
        }
        if (needSettle) {
          settle(index);
          continue;
        }
        if (needBudget) {
          reserve();
          reserved = true;
          continue;
        }
        if (full) {
          flusher.requestUpload(b, false, true);
        }
        return;
      }
      throw new IOException("volume " + volumeId + " chunk " + index + ": write did not settle");
    } finally {
      if (reserved) {
        shared.limiter.release(chunkSize);
      }
    }
  }

  private void reserve() throws IOException {
    try {
      if (!shared.limiter.acquire(chunkSize, shared.config.writeTimeout().toNanos())) {
        throw new IOException("volume " + volumeId + ": no dirty space within " + shared.config.writeTimeout()
            + " (uploads are failing or too slow)");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted waiting for dirty space");
    }
  }

  /**
   * Inside {@code dirty.compute} for {@code k}: the buffer that becomes dirty. With {@code forData} the buffer has
   * an array and is charged one chunk (the caller reserved it); otherwise it is a zero tombstone.
   */
  private ChunkBuffer becomeDirty(long k, boolean forData) {
    ChunkCache.Key key = new ChunkCache.Key(this, k);
    ChunkBuffer c = shared.clean.asMap().remove(key);
    ChunkBuffer r = shared.recent.remove(key);
    if (c == null) {
      c = r;
    }
    stripes.incrementAndGet((int) (k & (STRIPES - 1)));
    loading.remove(k);
    ChunkBuffer b;
    if (c != null && forData) {
      b = c;
    } else if (forData) {
      b = new ChunkBuffer(k, new byte[chunkSize], chunkSize);
    } else {
      b = new ChunkBuffer(k, null, chunkSize);
      b.valid.setFull();
      if (c != null) {
        synchronized (c) {
          b.version = c.version;
          b.durableVersion = c.durableVersion;
        }
      }
    }
    synchronized (b) {
      b.dirty = true;
      b.charged = forData;
      b.dirtySinceNanos = System.nanoTime();
    }
    return b;
  }

  /** Records a change to a dirty buffer; caller holds its monitor. */
  private static void touch(ChunkBuffer b) {
    long now = System.nanoTime();
    if (b.durableVersion == b.version) {
      b.dirtySinceNanos = now;
    } else if (b.version == b.uploadVersion) {
      b.changedSinceUploadNanos = now;
    }
    b.version++;
    b.lastChangeNanos = now;
  }

  /** TRIM: whole chunks become zero tombstones (deleted at upload); partial ranges are zeroed. */
  public void trim(long offset, long length, boolean fua) throws IOException {
    zero(offset, length, fua);
  }

  /**
   * WRITE_ZEROES: whole chunks become zero tombstones (the store deletes their objects: an all-zero chunk is never
   * stored), partial ranges are written as zeros in the chunk buffer (no download). Never slow in a way FAST_ZERO
   * would refuse: it is the same work as a write of that range, or less.
   */
  public void zero(long offset, long length, boolean fua) throws IOException {
    checkOpen();
    @Nullable List<WriteBackFlusher.Target> touched = fua ? new ArrayList<>() : null;
    long pos = offset;
    long end = offset + length;
    while (pos < end) {
      long index = pos >>> chunkShift;
      int off = (int) (pos & (chunkSize - 1));
      int n = (int) Math.min(chunkSize - off, end - pos);
      if (n == chunkSize || (off == 0 && pos + n >= size() && pos + n == end)) {
        zeroChunk(index, touched);
      } else {
        writePiece(index, off, n, null, touched);
      }
      pos += n;
    }
    if (touched != null) {
      counters.flushes.increment();
      flusher.awaitDurable(touched);
    }
  }

  private void zeroChunk(long index, @Nullable List<WriteBackFlusher.Target> touched) throws IOException {
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      ChunkBuffer b = dirty.get(index);
      if (b == null) {
        if (!store.isStored(index) && !cached(index)) {
          return; // already reads as zeros and nothing to delete
        }
        b = dirty.computeIfAbsent(index, k -> becomeDirty(k, false));
      }
      boolean done;
      synchronized (b) {
        done = b.dirty;
        if (done) {
          zeroLocked(b, touched);
        }
      }
      if (!done) {
        settle(index);
        continue;
      }
      // no eager upload: zeroed chunks wait for a FLUSH or their age, so their deletes go out in batches
      return;
    }
    throw new IOException("volume " + volumeId + " chunk " + index + ": zero did not settle");
  }

  /** Turns dirty buffer {@code b} into a zero tombstone; caller holds its monitor. */
  private void zeroLocked(ChunkBuffer b, @Nullable List<WriteBackFlusher.Target> touched) {
    if (b.charged) {
      shared.limiter.release(chunkSize);
      b.charged = false;
    }
    b.data = null;
    b.valid.setFull();
    touch(b);
    if (touched != null) {
      touched.add(new WriteBackFlusher.Target(b, b.version, b.attemptSeq));
    }
  }

  // ---------------------------------------------------------------- flush, upload completion

  /** FLUSH: returns when every change completed before the call is durable (see the class note). */
  public void flush() throws IOException {
    checkOpen();
    flushInternal();
  }

  private void flushInternal() throws IOException {
    counters.flushes.increment();
    if (dirty.isEmpty()) {
      return;
    }
    List<WriteBackFlusher.Target> targets = new ArrayList<>();
    for (ChunkBuffer b : dirty.values()) {
      synchronized (b) {
        if (b.dirty && b.durableVersion < b.version) {
          targets.add(new WriteBackFlusher.Target(b, b.version, b.attemptSeq));
        }
      }
    }
    flusher.awaitDurable(targets);
  }

  /** The store acknowledged version {@code v} of {@code b} (PUT, or DELETE when {@code zero}). */
  void uploaded(ChunkBuffer b, long v, boolean zero) {
    uploads.succeeded();
    dirty.compute(b.index, (k, cur) -> {
      synchronized (b) {
        b.uploading = false;
        b.failure = null;
        b.durableVersion = Math.max(b.durableVersion, v);
        if (v == b.uploadVersion && b.version > v) {
          // what stays dirty is only what changed after the stored snapshot: its age starts there, so a chunk
          // rewritten during its upload waits its own loss window instead of uploading again at once
          b.dirtySinceNanos = b.changedSinceUploadNanos;
        }
        b.uploadVersion = -1;
        if (cur == b && b.version == v) {
          b.dirty = false;
          b.urgent = false;
          if (b.charged) {
            shared.limiter.release(chunkSize);
            b.charged = false;
          }
          stripes.incrementAndGet((int) (k & (STRIPES - 1)));
          if (b.data != null && !zero) {
            shared.clean.put(new ChunkCache.Key(this, k), b);
          }
          b.notifyAll();
          return null;
        }
        b.notifyAll();
        return cur;
      }
    });
  }

  /** Upload attempt {@code seq} of {@code b} failed; the chunk stays dirty. */
  void uploadFailed(ChunkBuffer b, long seq, Throwable e) {
    counters.failures.increment();
    synchronized (b) {
      b.uploading = false;
      b.uploadVersion = -1;
      b.failedSeq = Math.max(b.failedSeq, seq);
      b.failure = e instanceof IOException io ? io : new IOException(e);
      b.retryAfterNanos = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
      b.notifyAll();
    }
    uploads.failed("upload", "chunk " + b.index + ": upload failed, chunk stays dirty: " + e);
  }

  // ---------------------------------------------------------------- block status

  /** {@code base:allocation} flags of chunk {@code index}, without reading data. */
  int allocation(long index) {
    ChunkBuffer b = dirty.get(index);
    if (b != null) {
      synchronized (b) {
        if (b.dirty) {
          return b.data == null ? VolumeExport.HOLE | VolumeExport.ZERO : 0;
        }
      }
    }
    if (cached(index)) {
      return 0;
    }
    return store.isStored(index) ? 0 : VolumeExport.HOLE | VolumeExport.ZERO;
  }

  /** {@code bucketdisk:dirty} flags: {@link VolumeExport#DIRTY} while the chunk has changes not yet durable. */
  int dirtyState(long index) {
    ChunkBuffer b = dirty.get(index);
    if (b == null) {
      return 0;
    }
    synchronized (b) {
      return b.dirty && b.durableVersion < b.version ? VolumeExport.DIRTY : 0;
    }
  }

  /** {@code bucketdisk:allocation-depth}: 0 reads as zeros, 1 this volume, 2 its parent, ... */
  int depth(long index) {
    ChunkBuffer b = dirty.get(index);
    if (b != null) {
      synchronized (b) {
        if (b.dirty) {
          return b.data == null ? 0 : 1;
        }
      }
    }
    return store.depth(index);
  }

  /** Chunk-granular flags for block status. */
  @FunctionalInterface
  interface ChunkFlags {
    int flags(long index);
  }

  /**
   * Emits extents for {@code [offset, offset + length)} (clipped to the volume), merging neighbouring chunks with
   * equal flags; stops when {@code sink} declines or after one extent with {@code one}.
   */
  void extents(long offset, long length, boolean one, ChunkFlags flags, io.bucketdisk.nbd.export.Export.ExtentSink sink) {
    long end = Math.min(offset + length, size());
    long pos = offset;
    if (pos >= end) {
      sink.extent(length, 0);
      return;
    }
    long runStart = pos;
    int runFlags = flags.flags(pos >>> chunkShift);
    pos = ((pos >>> chunkShift) + 1) << chunkShift;
    while (pos < end) {
      int f = flags.flags(pos >>> chunkShift);
      if (f != runFlags) {
        if (!sink.extent(pos - runStart, runFlags) || one) {
          return;
        }
        runStart = pos;
        runFlags = f;
      }
      pos += chunkSize;
    }
    sink.extent(end - runStart, runFlags);
  }

  // ---------------------------------------------------------------- control

  /** Flushes, then records snapshot {@code snapshotId} in the store with uploads held off. */
  public void snapshot(String snapshotId) throws IOException {
    checkOpen();
    flushInternal();
    epochLock.writeLock().lock();
    try {
      store.snapshot(snapshotId);
    } finally {
      epochLock.writeLock().unlock();
    }
    log.info("volume {}: snapshot {} recorded", volumeId, snapshotId);
  }

  /** Re-reads the volume's manifest (a resize). */
  public void refresh() throws IOException {
    checkOpen();
    store.refresh();
  }

  /**
   * Checks the structural invariants (for tests): every dirty-map buffer is dirty, charged exactly when it has
   * data, and not also in Caffeine; returns the violations found.
   */
  List<String> invariantViolations() {
    List<String> out = new ArrayList<>();
    for (Long k : dirty.keySet()) {
      dirty.computeIfPresent(k, (key, b) -> {
        synchronized (b) {
          if (!b.dirty) {
            out.add("clean buffer in the dirty map: " + b);
          }
          if (b.charged != (b.data != null)) {
            out.add("charge mismatch: " + b + " charged=" + b.charged);
          }
        }
        if (shared.clean.getIfPresent(new ChunkCache.Key(this, key)) != null) {
          out.add("chunk " + key + " both dirty and in Caffeine");
        }
        if (shared.recent.contains(new ChunkCache.Key(this, key))) {
          out.add("chunk " + key + " both dirty and recent");
        }
        return b;
      });
    }
    return out;
  }

  /** Waits until a transition of {@code index} that another thread is inside {@code dirty.compute} for has ended. */
  private void settle(long index) {
    dirty.computeIfPresent(index, (k, cur) -> cur);
  }

  long stamp(long index) {
    return stripes.get((int) (index & (STRIPES - 1)));
  }

  private void checkOpen() throws IOException {
    if (closed) {
      throw new io.bucketdisk.nbd.export.ExportException(io.bucketdisk.nbd.export.NbdError.ESHUTDOWN,
          "volume " + volumeId + " is closed");
    }
  }

  public boolean isClosed() {
    return closed;
  }

  /**
   * Flushes, stops the write-back thread, drops this volume's clean chunks and closes the store handle (releasing
   * the lease). If the final flush fails, the dirty chunks are lost: that is logged as an error and thrown.
   */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    IOException failure = null;
    try {
      flushInternal();
    } catch (IOException e) {
      failure = e;
    }
    closed = true;
    flusher.close();
    int lost = 0;
    for (ChunkBuffer b : dirty.values()) {
      synchronized (b) {
        if (b.charged) {
          shared.limiter.release(chunkSize);
          b.charged = false;
        }
        b.dirty = false;
        lost++;
      }
    }
    dirty.clear();
    shared.invalidate(this);
    if (lost > 0) {
      log.error("volume {}: closed with {} chunks that could not be stored; their last writes are lost", volumeId,
          lost);
    }
    try {
      store.close();
    } catch (IOException e) {
      if (failure == null) {
        failure = e;
      } else {
        failure.addSuppressed(e);
      }
    }
    if (failure != null) {
      throw failure;
    }
    log.info("volume {}: closed", volumeId);
  }
}
