package io.bucketdisk.engine.cache;

import io.bucketdisk.engine.EngineException;
import io.bucketdisk.engine.ExtentMap;
import io.bucketdisk.engine.ExtentSink;
import io.bucketdisk.engine.Volume;
import io.bucketdisk.store.ChunkStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One open volume's write-back cache over its {@link ChunkStore}: the engine's {@link Volume}, the NBD verbs split
 * into chunk pieces and handed to the parts that own each kind of state.
 *
 * <p><b>Parts.</b> {@link DirtyChunks}: the dirty set, its versions and the stripe stamps (every clean/dirty
 * transition). {@link ChunkLoads}: loads in flight and their dedup. {@link ChunkReads}: the read path, with the small
 * random reads that fetch only the granules around them and the sequential streams read-ahead follows. {@link UploadScheduler}: when dirty chunks go to the store, and FLUSH/FUA waiting.
 * {@link ChunkUploader}: one upload, delete batch or merge at a time. The clean chunks are in the gateway-wide
 * {@link ChunkCache}. This class holds no chunk state of its own; the parts talk through methods.
 *
 * <p><b>Where a chunk lives.</b> Each chunk index is in at most one of: the dirty set (pinned, not evictable), a clean
 * tier of the {@link ChunkCache} (evictable), a load in flight, or nowhere (the store has it, or it reads as zeros).
 *
 * <p><b>Durability contract</b> (NBD spec "FLUSH", "FUA"). A write returns once its bytes are in a dirty buffer.
 * {@link #flush} takes, for every dirty chunk, the version it has when the flush starts, which includes every write
 * that completed before, on any connection, because a write bumps the version before it returns; it stores what no
 * segment holds yet as one log segment ({@link WriteLog}) and returns only when each chunk's version is logged or
 * stored in its chunk object. Concurrent flushes share one segment, an upload in flight that stores a chunk's
 * current version counts for it, and a flush with nothing unlogged makes no store request. A FUA write does the same
 * for its own chunks only. A segment or upload that fails (after the store's own retries) leaves the chunk dirty and
 * fails the flush; every later flush tries again and fails while the store refuses it. Dirty chunks are folded into
 * their chunk objects in the background ({@link UploadScheduler}) and by the {@link LogCompactor}; {@link #snapshot}
 * folds all of them first. {@link #close} only makes everything durable as a FLUSH does and leaves the log stored;
 * the next writable open adopts it ({@link WriteLog}), so a close costs no chunk PUT for what the log holds. Nothing
 * is dropped, except by {@link #close} after a final failed flush: chunks whose changes are not logged either are
 * then logged as an error with their number.
 *
 * <p>Thread safe.
 */
public final class VolumeCache implements Volume {
  private static final Logger log = LoggerFactory.getLogger(VolumeCache.class);

  private final ChunkStore store;
  private final ChunkCache shared;
  private final int chunkSize;
  private final int chunkShift;
  private final String volumeId;
  private final CacheCounters counters = new CacheCounters();
  /** This volume in the clean tiers' keys; a chunk pushed out of the recent tier comes back here. */
  private final VolumeOwner owner;
  private final DirtyChunks dirty;
  private final ChunkLoads loads;
  private final ChunkReads reads;
  private final ChunkUploader uploader;
  private final UploadScheduler scheduler;
  private final WriteLog writeLog;
  private final LogIndex logIndex = new LogIndex();
  private final StoredChunks stored;
  private final LogCompactor compactor;
  private final BlockStatus status;
  private final LogMerger merger;
  /** When a request last came: a fold started while the volume was quiet gives way to the next one. */
  private final RequestClock requests = new RequestClock();
  private volatile boolean closed;

  public VolumeCache(ChunkStore store, ChunkCache shared) {
    this.store = store;
    this.shared = shared;
    this.chunkSize = store.chunkSize();
    if (Integer.bitCount(chunkSize) != 1) {
      throw new IllegalArgumentException("chunk size must be a power of two: " + chunkSize);
    }
    this.chunkShift = Integer.numberOfTrailingZeros(chunkSize);
    this.volumeId = store.volumeId();
    ParkedVolumes.Parked kept = shared.reopen(store.tenure());
    this.owner = kept != null ? kept.owner() : new VolumeOwner();
    if (kept != null) {
      log.info("volume {}: its clean data stays cached from its last open (no other writer since)", store.volumeId());
    }
    owner.demoteTo(e -> loads().demote(e));
    this.writeLog = new WriteLog(store, logIndex, counters, shared.segmentBuffers());
    this.stored = new StoredChunks(store, logIndex, counters, shared.logReadBytes());
    this.dirty = new DirtyChunks(owner, stored, shared, index -> loads().forget(index), writeLog::folded);
    this.loads = new ChunkLoads(owner, stored, shared, dirty, counters, this::isClosed);
    shared.attach(owner, new DiskTier.Guard() {
      @Override
      public long stamp(long index) {
        return dirty.stamp(index);
      }

      @Override
      public boolean whileClean(long index, long stamp, Runnable publish) {
        return !closed && dirty.whileClean(index, stamp, () -> {
          if (!closed) {
            publish.run();
          }
        });
      }
    });
    this.reads = new ChunkReads(owner, stored, shared, dirty, loads, counters);
    this.uploader = new ChunkUploader(store, stored, shared, dirty, counters, writeLog);
    this.status = new BlockStatus(dirty, loads, logIndex, store, chunkShift);
    this.compactor = new LogCompactor(store, stored, logIndex, writeLog, uploader, shared, counters, requests);
    this.merger = new LogMerger(store, logIndex, writeLog, compactor, counters, shared.mergeSlots());
    dirty.versionsAbove(Math.max(writeLog.adopt(store.takeAdoptedLog()), kept == null ? 0 : kept.version()));
    compactor.adopted();
    this.scheduler = new UploadScheduler(volumeId, shared, dirty, uploader, writeLog, counters, this::isClosed, () -> {
      writeLog.trimDeadAsync();
      compactor.compactIfDue();
      merger.mergeIfDue();
    });
    scheduler.start();
  }

  private ChunkLoads loads() {
    return loads;
  }

  @Override
  public String id() {
    return volumeId;
  }

  @Override
  public boolean readOnly() {
    return store.readOnly();
  }

  public ChunkStore store() {
    return store;
  }

  @Override
  public long size() {
    return store.size();
  }

  @Override
  public int chunkSize() {
    return chunkSize;
  }

  @Override
  public CacheCounters counters() {
    return counters;
  }

  @Override
  public long dirtyBytes() {
    return dirty.atRisk().bytes();
  }

  @Override
  public int dirtyChunks() {
    return dirty.atRisk().chunks();
  }

  @Override
  public long oldestDirtyAgeNanos() {
    return dirty.atRisk().oldestAgeNanos();
  }

  @Override
  public double leaseValidSeconds() {
    return store.leaseValidSeconds();
  }

  // ---------------------------------------------------------------- read

  @Override
  public void read(long offset, ByteBuffer dst) throws IOException {
    checkRange(offset, dst.remaining());
    requests.served();
    reads.read(offset, dst);
  }

  @Override
  public boolean readIfHeld(long offset, ByteBuffer dst) throws IOException {
    checkRange(offset, dst.remaining());
    if (!reads.readIfHeld(offset, dst)) {
      return false;
    }
    requests.served();
    return true;
  }

  /** NBD CACHE: loads the chunks of the range (at most the recent tier, half the clean budget) and waits. */
  @Override
  public void cache(long offset, long length) throws IOException {
    checkOpen();
    requests.served();
    if (length > 0) {
      reads.cache(offset, length);
    }
  }

  // ---------------------------------------------------------------- write, trim, zero

  @Override
  public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
    checkWritable(offset, src.remaining());
    requests.served();
    @Nullable List<FlushTarget> touched = fua ? new ArrayList<>() : null;
    long pos = offset;
    while (src.hasRemaining()) {
      long index = pos >>> chunkShift;
      int off = (int) (pos & (chunkSize - 1));
      int n = Math.min(chunkSize - off, src.remaining());
      writePiece(index, off, n, src, touched);
      pos += n;
    }
    awaitTouched(touched);
  }

  private void writePiece(long index, int off, int n, @Nullable ByteBuffer src, @Nullable List<FlushTarget> touched)
      throws IOException {
    ChunkBuffer completed = dirty.write(index, off, n, src, touched);
    if (completed != null) {
      // a chunk that this write completed is likely done (sequential writers): upload it now
      scheduler.requestUpload(completed, false, true);
    }
  }

  /** TRIM: whole chunks become zero tombstones (deleted at upload); partial ranges are zeroed. */
  @Override
  public void trim(long offset, long length, boolean fua) throws IOException {
    zero(offset, length, fua);
  }

  /**
   * WRITE_ZEROES: whole chunks become zero tombstones (the store deletes their objects: an all-zero chunk is never
   * stored), partial ranges are written as zeros in the chunk buffer (no download). Never slow in a way FAST_ZERO
   * would refuse: it is the same work as a write of that range, or less. Zeroed chunks are not uploaded eagerly: they
   * wait for a FLUSH or their age, so their deletes go out in batches.
   */
  @Override
  public void zero(long offset, long length, boolean fua) throws IOException {
    checkWritable(offset, length);
    requests.served();
    @Nullable List<FlushTarget> touched = fua ? new ArrayList<>() : null;
    long pos = offset;
    long end = offset + length;
    while (pos < end) {
      long index = pos >>> chunkShift;
      int off = (int) (pos & (chunkSize - 1));
      int n = (int) Math.min(chunkSize - off, end - pos);
      if (n == chunkSize || (off == 0 && pos + n >= size() && pos + n == end)) {
        dirty.zero(index, touched);
      } else {
        writePiece(index, off, n, null, touched);
      }
      pos += n;
    }
    awaitTouched(touched);
  }

  private void awaitTouched(@Nullable List<FlushTarget> touched) throws IOException {
    if (touched != null) {
      counters.flushed();
      List<ChunkBuffer> buffers = new ArrayList<>(touched.size());
      for (FlushTarget t : touched) {
        buffers.add(t.buffer());
      }
      writeLog.log(buffers, true);
      scheduler.awaitDurable(touched, true);
    }
  }

  // ---------------------------------------------------------------- flush, snapshot, refresh

  /** FLUSH: returns when every change completed before the call is durable (see the class note). */
  @Override
  public void flush() throws IOException {
    checkOpen();
    requests.served();
    logAll();
    merger.mergeIfDue(); // a sync writer adds segments faster than the tick may look
  }

  /**
   * Makes every change durable, through the log or (a chunk rewritten whole that no segment names) its chunk
   * object, as a FLUSH does.
   */
  private void logAll() throws IOException {
    counters.flushed();
    if (dirty.isEmpty()) {
      return;
    }
    List<FlushTarget> targets = dirty.flushTargets();
    if (targets.isEmpty()) {
      return;
    }
    writeLog.log(dirty.buffers(), true);
    scheduler.awaitDurable(targets, true);
  }

  /** Folds every dirty chunk into its chunk object now (tests; snapshots do it themselves). */
  void fold() throws IOException {
    checkOpen();
    foldAll();
  }

  /**
   * Stores every dirty chunk, and every chunk whose logged changes left memory, in its chunk object (what snapshots
   * and the next opener read without the log).
   */
  private void foldAll() throws IOException {
    counters.flushed();
    if (!dirty.isEmpty()) {
      scheduler.awaitDurable(dirty.foldTargets(), false);
    }
    compactor.compactAll();
  }

  /** Folds everything, then records snapshot {@code snapshotId} in the store with uploads held off. */
  @Override
  public void snapshot(String snapshotId) throws IOException {
    checkOpen();
    foldAll();
    uploader.whileHeld(() -> store.snapshot(snapshotId));
    log.info("volume {}: snapshot {} recorded", volumeId, snapshotId);
  }

  @Override
  public void refresh() throws IOException {
    checkOpen();
    store.refresh();
  }

  // ---------------------------------------------------------------- block status

  @Override
  public void blockStatus(ExtentMap map, long offset, long length, boolean one, ExtentSink sink) throws IOException {
    checkOpen();
    status.report(map, offset, length, size(), one, sink);
  }

  // ---------------------------------------------------------------- checks, close

  /** The structural invariants of the dirty set (for tests); the violations found. */
  List<String> invariantViolations() {
    return dirty.invariantViolations();
  }

  /** The dirty buffer of chunk {@code index} (for test messages), or null. */
  @Nullable ChunkBuffer dirtyBuffer(long index) {
    return dirty.get(index);
  }

  private void checkOpen() throws IOException {
    if (closed) {
      throw new EngineException(EngineException.Kind.CLOSED, "volume " + volumeId + " is closed");
    }
  }

  private void checkRange(long offset, long length) throws IOException {
    checkOpen();
    if (offset < 0 || length < 0 || offset > size() - length) {
      throw new EngineException(EngineException.Kind.INVALID, "volume " + volumeId + ": range " + offset + " +"
          + length + " is outside its " + size() + " bytes");
    }
  }

  private void checkWritable(long offset, long length) throws IOException {
    checkRange(offset, length);
    if (store.readOnly()) {
      throw new EngineException(EngineException.Kind.READ_ONLY, "volume " + volumeId + " is read-only");
    }
  }

  @Override
  public boolean isClosed() {
    return closed;
  }

  /**
   * Flushes (through the log: nothing is folded), deletes the segments already folded, stops the write-back thread,
   * drops this volume's clean chunks and closes the store handle (releasing the lease). The log stays stored: the
   * next writable open adopts it ({@link WriteLog}). If the final flush fails, the dirty chunks are lost: that is
   * logged as an error and thrown.
   */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    IOException failure = null;
    try {
      logAll();
    } catch (IOException e) {
      failure = e;
    }
    try {
      merger.close();
    } catch (IOException e) {
      failure = failure == null ? e : failure;
    }
    if (failure == null && !store.readOnly()) {
      try {
        writeLog.trimDead();
      } catch (IOException e) {
        log.warn("volume {}: folded log segments not deleted at close ({}); the next open adopts them", volumeId,
            e.getMessage());
      }
    }
    closed = true;
    scheduler.close();
    int lost = dirty.dropAll();
    ChunkStore.Tenure tenure = store.tenure();
    if (failure == null && lost == 0 && tenure != null) {
      shared.park(owner, tenure, dirty.lastVersion());
    } else {
      shared.invalidate(owner);
    }
    if (lost > 0) {
      log.error("volume {}: closed with {} chunks that could be neither stored nor logged; their last writes are lost",
          volumeId, lost);
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
