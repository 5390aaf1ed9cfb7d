package io.bucketdisk.engine.cache;

import io.bucketdisk.store.ChunkStore;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Moves one volume's dirty chunks to the store, one chunk (or one batch of deletes) per call, and reports each
 * result to {@link DirtyChunks}. Which chunk goes when is {@link UploadScheduler}'s business.
 *
 * <p><b>An upload</b> takes the buffer's bytes and version under its monitor: a whole, fully valid chunk's own
 * array, frozen until the store answers ({@link ChunkBytes#freeze}: a write meanwhile goes to a copy), else a copy
 * in a scratch chunk with the missing ranges filled from the store ({@link #readMissing}). It stores them (a PUT, or
 * a DELETE when they are all zeros: an all-zero chunk is never stored) and reports the version it stored
 * ({@link DirtyChunks#uploaded}). Writes may continue meanwhile; they bump the version, so the chunk stays dirty. A failure after the store's retries
 * is reported with the attempt number ({@link DirtyChunks#uploadFailed}); the chunk stays dirty.
 *
 * <p><b>Merging</b> never happens on the write path (invariant 4): a partial chunk is filled just before its upload,
 * or before a read that needs a missing range, from {@link StoredChunks} (the chunk object with the logged extents
 * over it). One ranged read when a single range is missing, a whole read otherwise, nothing when the store has
 * nothing of the chunk.
 *
 * <p><b>Snapshots and compaction.</b> Store calls, and the report of their result, hold the read side of an epoch
 * lock; {@link #whileHeld} holds the write side, so a snapshot is recorded, and the {@link LogCompactor} writes chunk
 * objects, with no upload in flight or reported half-way.
 *
 * <p>Thread safe. Each call holds one of the cache's scratch permits (with an array, or counting one for the frozen
 * array a write may leave to it), which bounds the memory of uploads to {@code uploadParallelism} chunks.
 */
final class ChunkUploader {
  /** A store call run with uploads held off. */
  @FunctionalInterface
  interface StoreCall {
    void run() throws IOException;
  }

  private final ChunkStore store;
  private final ChunkCache shared;
  private final DirtyChunks dirty;
  private final CacheCounters counters;
  private final int chunkSize;
  private final ReentrantReadWriteLock epochLock = new ReentrantReadWriteLock();
  private final WriteLog writeLog;
  private final StoredChunks stored;
  /** Per chunk, the highest version the compactor stored (see {@link #compacted}). */
  private final java.util.concurrent.ConcurrentHashMap<Long, Long> compacted =
      new java.util.concurrent.ConcurrentHashMap<>();

  ChunkUploader(ChunkStore store, StoredChunks stored, ChunkCache shared, DirtyChunks dirty, CacheCounters counters,
      WriteLog writeLog) {
    this.writeLog = writeLog;
    this.stored = stored;
    this.store = store;
    this.shared = shared;
    this.dirty = dirty;
    this.counters = counters;
    this.chunkSize = store.chunkSize();
  }

  /**
   * The {@link LogCompactor} stored chunk {@code index} at logged version {@code version}, with uploads held off. An
   * upload that copied an older version before (its logging may have captured newer changes, which the compactor
   * then stored and the log let go) must not store its copy over that.
   */
  void compacted(long index, long version) {
    compacted.merge(index, version, Math::max);
  }

  private boolean compactedAtLeast(long index, long version) {
    Long v = compacted.get(index);
    return v != null && v >= version;
  }

  /** Runs {@code call} with no upload or delete in flight and none starting until it returns. */
  void whileHeld(StoreCall call) throws IOException {
    epochLock.writeLock().lock();
    try {
      call.run();
    } finally {
      epochLock.writeLock().unlock();
    }
  }

  /** Stores dirty buffer {@code b} as upload attempt {@code seq}; true when the store acknowledged it. */
  boolean upload(ChunkBuffer b, long seq) {
    ScratchChunks pool = shared.scratch(chunkSize);
    boolean sendsOwn;
    synchronized (b) {
      sendsOwn = b.data != null && b.data.isWhole() && b.valid.isFull();
    }
    Transfer t = new Transfer(pool, b);
    try {
      t.start(sendsOwn);
      long version;
      boolean zero;
      while (true) {
        int[] missing;
        synchronized (b) {
          missing = b.data == null ? new int[0] : b.valid.missingArray();
        }
        boolean partial = missing.length > 0;
        if (partial) {
          readMissing(b.index, missing, t.scratch());
        }
        synchronized (b) {
          ChunkBytes d = b.data;
          if (d != null && !partial && !b.valid.isFull()) {
            continue;
          }
          version = b.version;
          b.uploadVersion = version;
          zero = d == null;
          if (d != null) {
            t.capture(d, b.valid, partial);
          }
        }
        break;
      }
      byte[] bytes = t.bytes();
      if (!zero) {
        zero = Zeros.isZero(bytes, 0, chunkSize);
      }
      logFirstIfHeld(b, version);
      epochLock.readLock().lock();
      try {
        // unless the compactor stored a newer logged state while this copy waited: storing it would take bytes
        // back that the log no longer holds
        if (!compactedAtLeast(b.index, version)) {
          storeCopy(b.index, bytes, zero);
        }
        t.thaw(); // before the chunk may turn clean: a clean chunk is never frozen
        // reported inside the lock: a compaction that starts after the PUT finds the log entries gone with it
        dirty.uploaded(b, version, zero);
      } finally {
        epochLock.readLock().unlock();
      }
      return true;
    } catch (InterruptedException e) {
      failed(b, seq, new InterruptedIOException("upload interrupted"));
    } catch (IOException | RuntimeException e) {
      failed(b, seq, e);
    } finally {
      t.end();
    }
    return false;
  }

  /**
   * The bytes one upload stores: a whole, fully valid chunk's own array, frozen while it is stored (no copy), or a
   * scratch copy of the chunk (a partial chunk filled from the store, sparse pages). Either holds one of the pool's
   * permits, which bound uploads in flight. Used by one upload; {@link #end} is idempotent.
   */
  private static final class Transfer {
    private final ScratchChunks pool;
    private final ChunkBuffer buffer;
    private boolean withoutArray;
    private boolean started;
    private byte @org.jspecify.annotations.Nullable [] scratch;
    private byte @org.jspecify.annotations.Nullable [] own;
    private byte @org.jspecify.annotations.Nullable [] copy;
    private byte @org.jspecify.annotations.Nullable [] orphan;
    private static final byte[] NOTHING = new byte[0];

    Transfer(ScratchChunks pool, ChunkBuffer buffer) {
      this.pool = pool;
      this.buffer = buffer;
    }

    void start(boolean sendsOwn) throws InterruptedException {
      if (sendsOwn) {
        pool.takeWithoutArray();
      } else {
        scratch = pool.take();
      }
      withoutArray = sendsOwn;
      started = true;
    }

    /** A scratch array, allocated now if this transfer meant to send the chunk's own (its state changed since). */
    byte[] scratch() {
      if (scratch == null) {
        scratch = new byte[pool.bufferSize()];
      }
      return scratch;
    }

    /** Takes the bytes of {@code d} (valid where {@code valid}); caller holds the buffer's monitor. */
    void capture(ChunkBytes d, ValidRanges valid, boolean partial) {
      if (!partial && d.isWhole() && valid.isFull() && scratch == null) {
        own = d.freeze();
        return;
      }
      byte[] into = scratch();
      int[] ranges = valid.toArray();
      for (int r = 0; r < ranges.length; r += 2) {
        d.copy(ranges[r], into, ranges[r], ranges[r + 1] - ranges[r]);
      }
      copy = into;
    }

    /** What to store; empty when nothing was captured (a zero tombstone, stored as a delete). */
    byte[] bytes() {
      byte[] b = own != null ? own : copy;
      return b != null ? b : NOTHING;
    }

    /** Ends the freeze of the chunk's own array, if it was sent; idempotent. */
    void thaw() {
      if (own != null) {
        synchronized (buffer) {
          ChunkBytes d = buffer.data;
          orphan = d != null && d.thaw(own) ? null : own;
        }
        own = null;
      }
    }

    /** Thaws, and gives the permit (and any array) back; idempotent. */
    void end() {
      if (!started) {
        return;
      }
      started = false;
      thaw();
      if (withoutArray) {
        pool.giveWithoutArray(scratch != null ? scratch : orphan);
      } else {
        pool.give(scratch);
      }
    }
  }

  /**
   * Deletes zeroed chunks {@code batch} (at {@code versions}, attempts {@code seqs}) in one store call; chunks the
   * store never had cost nothing. True when the store acknowledged them.
   */
  boolean delete(List<ChunkBuffer> batch, List<Long> versions, List<Long> seqs) {
    long[] indexes = new long[batch.size()];
    try {
      List<ChunkBuffer> held = new java.util.ArrayList<>();
      for (int i = 0; i < batch.size(); i++) {
        ChunkBuffer b = batch.get(i);
        if (writeLog.holds(b.index)) {
          synchronized (b) {
            if (b.loggedVersion < versions.get(i)) {
              held.add(b);
            }
          }
        }
      }
      if (!held.isEmpty()) {
        writeLog.log(held, false); // the folding rule: a replay must not bring the chunk's old bytes back
      }
      epochLock.readLock().lock();
      try {
        int n = 0;
        for (int i = 0; i < batch.size(); i++) {
          long index = batch.get(i).index;
          if (store.isStored(index) && !compactedAtLeast(index, versions.get(i))) {
            indexes[n++] = index;
          }
        }
        if (n > 0) {
          store.delete(indexes, n);
          counters.deleted(n);
        }
        for (int i = 0; i < batch.size(); i++) {
          dirty.uploaded(batch.get(i), versions.get(i), true);
        }
      } finally {
        epochLock.readLock().unlock();
      }
      return true;
    } catch (IOException | RuntimeException e) {
      for (int i = 0; i < batch.size(); i++) {
        failed(batch.get(i), seqs.get(i), e);
      }
      return false;
    }
  }

  /**
   * Stores {@code copy} as chunk {@code index}'s object: a PUT, or when it reads as zeros ({@code zero}) a DELETE of
   * the object if there is one (an all-zero chunk is never stored). The caller holds uploads off or is one.
   */
  void storeCopy(long index, byte[] copy, boolean zero) throws IOException {
    if (zero) {
      if (store.isStored(index)) {
        store.delete(new long[] {index}, 1);
        counters.deleted(1);
      }
    } else {
      store.write(index, ByteBuffer.wrap(copy, 0, chunkSize));
      counters.put(chunkSize);
    }
  }

  /**
   * The folding rule ({@link WriteLog}): when a stored segment names the chunk, the copy about to be stored must be
   * logged in full first, else a replay of that segment would take its newer bytes back.
   */
  private void logFirstIfHeld(ChunkBuffer b, long version) throws IOException {
    if (!writeLog.holds(b.index)) {
      return;
    }
    synchronized (b) {
      if (b.loggedVersion >= version) {
        return;
      }
    }
    writeLog.log(List.of(b), false);
  }

  /**
   * What no write covered comes from the store: one ranged GET when one range is {@code missing}, else the whole
   * chunk; none when the store has nothing of it.
   */
  private void readMissing(long index, int[] missing, byte[] scratch) throws IOException {
    if (missing.length == 2) {
      ByteBuffer range = ByteBuffer.wrap(scratch, missing[0], missing[1] - missing[0]);
      if (!stored.isStored(index) || !stored.readRange(index, missing[0], range.duplicate())) {
        Zeros.fill(range, missing[1] - missing[0]);
      }
    } else {
      stored.readOrZeros(index, scratch);
    }
  }

  private void failed(ChunkBuffer b, long seq, Exception e) {
    counters.failed();
    dirty.uploadFailed(b, seq, e);
  }
}
