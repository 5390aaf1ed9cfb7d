package io.bucketdisk.store;

import static io.bucketdisk.store.ChunkIndex.OLDER;
import static io.bucketdisk.store.ChunkIndex.PRESENT;
import static io.bucketdisk.store.ChunkIndex.RESOLVED;
import static io.bucketdisk.store.ChunkIndex.TOMBSTONE;
import static io.bucketdisk.store.ChunkIndex.has;

import io.bucketdisk.store.LayeredIndex.Located;
import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.layout.SnapshotPin;
import io.bucketdisk.store.layout.VolumeManifest;
import io.bucketdisk.store.log.SegmentDirectory;
import io.bucketdisk.store.object.ObjectStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One open volume or snapshot: the {@link ChunkStore} the gateway's cache reads and writes through.
 *
 * <p><b>Reading.</b> The {@link ChunkIndex} built at open ({@link LayeredIndex}) says, per chunk, which key holds it:
 * the volume's own newest key (at most the snapshot epoch for a snapshot view) or the first parent layer that has it. A
 * tombstone (0-byte key) or no key reads as zeros without a request.
 *
 * <p><b>Writing.</b> A write PUTs {@code <index>@<current epoch>}; all-zero data is a delete instead (zero chunks are
 * never stored). The key it replaces is deleted after the PUT unless a snapshot pins it (some snapshot epoch &gt;=
 * its epoch; snapshots always sit below the current epoch). A delete removes the key when nothing would show through
 * (no older pinned own key, no parent data), else writes a tombstone at the current epoch. The index changes only
 * after the store acknowledged the PUT, and before the DELETE of a replaced key, so a read never names a key that is
 * gone.
 *
 * <p><b>Fencing.</b> A writable handle renews its lease ({@link VolumeLease}) every third of the lease duration on a
 * virtual thread. It counts the lease valid until {@code (send time of the last successful renewal) + duration - clock
 * skew} on the monotonic clock; past that, or once a renewal finds the lease taken, writes, deletes and snapshots throw
 * CONFLICT for good. A write whose PUT finishes after the lease ran out is not acknowledged either.
 *
 * <p><b>Snapshots.</b> {@link #snapshot} takes the write lock of a read-write lock whose read side every write and
 * delete holds, so no write straddles the epoch bump.
 */
final class VolumeChunkStore implements ChunkStore {
  private static final Logger log = LoggerFactory.getLogger(VolumeChunkStore.class);
  private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);
  private static final int TOMBSTONE_PARALLELISM = 16;
  private static final ConcurrentHashMap<Integer, ByteBuffer> ZEROS = new ConcurrentHashMap<>();

  /** One layer of the read-through chain: keys of {@code volumeId} with epoch at most {@code maxEpoch}. */
  record Layer(String volumeId, long maxEpoch) {}

  private final VolumeCatalog catalog;
  private final ObjectStore store;
  private final ChecksummedChunks checked;
  private final VolumeLog writeLog;
  private final String name;
  private final String dataVolume;
  private final LayeredIndex chain;
  private final VolumeLease lease;
  private final @Nullable Tenure tenure;
  private final boolean snapshotView;
  private final int chunkSize;
  private final ByteBuffer zeros;
  private final ReentrantReadWriteLock epochLock = new ReentrantReadWriteLock();

  private volatile long size;
  private volatile long epoch;
  private volatile long maxPin;
  private volatile boolean closed;
  /** Guarded by {@code this}. */
  private List<SegmentDirectory> adopted = List.of();
  private volatile int adoptedSegments;

  VolumeChunkStore(VolumeCatalog catalog, String name, VolumeManifest m, List<Layer> layers,
      @Nullable LeaseOwner owner, long size, boolean snapshotView) {
    this.catalog = catalog;
    this.store = catalog.objectStore();
    this.name = name;
    this.dataVolume = m.id();
    this.lease = new VolumeLease(catalog, dataVolume, owner, this::size);
    this.tenure = owner == null ? null : new Tenure(m.id(), m.createdAtMillis(), m.writerGeneration());
    this.snapshotView = snapshotView;
    this.chunkSize = m.chunkSize();
    this.checked = new ChecksummedChunks(store, dataVolume, chunkSize, catalog.options().metrics());
    this.writeLog = new VolumeLog(store, dataVolume, catalog.options().metrics());
    this.chain = new LayeredIndex(store, checked, dataVolume, chunkSize, layers, size);
    this.size = size;
    this.epoch = m.epoch();
    this.maxPin = maxPin(m);
    this.zeros = ZEROS.computeIfAbsent(chunkSize, n -> ByteBuffer.allocateDirect(n).asReadOnlyBuffer());
  }

  /** Builds the chunk index: one paged LIST per layer. */
  void load() throws IOException {
    chain.load(size);
  }

  void startRenewal(long sentNanos) {
    lease.start(sentNanos);
  }

  private LeaseOwner requireOwner() throws StoreException {
    LeaseOwner o = lease.owner();
    if (o == null) {
      throw new StoreException(Kind.PERMANENT, name + " is read-only");
    }
    return o;
  }

  private void checkWritable() throws StoreException {
    if (closed) {
      throw new StoreException(Kind.PERMANENT, "volume " + name + ": handle closed");
    }
    if (lease.owner() == null) {
      throw new StoreException(Kind.PERMANENT, name + " is read-only");
    }
    lease.check();
  }

  private void checkReadable(long i) throws StoreException {
    if (closed) {
      throw new StoreException(Kind.PERMANENT, "volume " + name + ": handle closed");
    }
    long chunks = chain.current().chunks();
    if (i < 0 || i >= chunks) {
      throw new IllegalArgumentException("chunk " + i + " is outside volume " + name + " (" + chunks + " chunks)");
    }
  }

  @Override
  public String volumeId() {
    return name;
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
  public double leaseValidSeconds() {
    if (readOnly()) {
      return Double.NaN;
    }
    return lease.validSeconds();
  }

  @Override
  public boolean readOnly() {
    return lease.owner() == null;
  }

  @Override
  public @Nullable Tenure tenure() {
    return tenure;
  }

  @Override
  public boolean read(long index, ByteBuffer dst) throws IOException {
    return readRange(index, 0, dst);
  }

  @Override
  public boolean readRange(long i, int offsetInChunk, ByteBuffer dst) throws IOException {
    checkReadable(i);
    if (offsetInChunk < 0 || offsetInChunk + (long) dst.remaining() > chunkSize) {
      throw new IllegalArgumentException("range " + offsetInChunk + "+" + dst.remaining() + " is outside a chunk of "
          + chunkSize);
    }
    Located at = chain.locate(i);
    if (at == null) {
      return false;
    }
    String key = at.key();
    int want = dst.remaining();
    int n = at.framed() ? checked.read(key, i, offsetInChunk, dst) : store.read(key, offsetInChunk, dst);
    if (n < 0) {
      throw new StoreException(Kind.PERMANENT, "volume " + name + ": chunk " + i + " (" + key
          + ") is missing from the store");
    }
    for (int k = n; k < want; k++) {
      dst.put((byte) 0);
    }
    return true;
  }

  @Override
  public void write(long i, ByteBuffer data) throws IOException {
    checkReadable(i);
    checkWritable();
    if (data.remaining() != chunkSize) {
      throw new IllegalArgumentException("write of " + data.remaining() + " bytes; a chunk is " + chunkSize);
    }
    if (data.mismatch(zeros) < 0) {
      delete(new long[] {i}, 1);
      return;
    }
    epochLock.readLock().lock();
    try {
      lease.check();
      long e = epoch;
      ChunkIndex idx = chain.current();
      long prev = idx.own(i);
      checked.put(Layout.chunkKey(dataVolume, i, e), data);
      lease.check(); // a PUT that outlived the lease is not acknowledged
      boolean older = has(prev, OLDER);
      String superseded = null;
      if (has(prev, PRESENT) && ChunkIndex.epoch(prev) < e) {
        if (ChunkIndex.epoch(prev) <= maxPin) {
          older = true;
        } else {
          superseded = Layout.chunkKey(dataVolume, i, ChunkIndex.epoch(prev));
        }
      }
      idx.setOwn(i, ChunkIndex.ownEntry(e, false, older, true));
      if (superseded != null) {
        deleteQuietly(List.of(superseded));
      }
    } finally {
      epochLock.readLock().unlock();
    }
  }

  @Override
  public void delete(long[] indexes, int count) throws IOException {
    checkWritable();
    for (int k = 0; k < count; k++) {
      checkReadable(indexes[k]);
    }
    epochLock.readLock().lock();
    try {
      lease.check();
      long e = epoch;
      ChunkIndex idx = chain.current();
      List<String> garbage = new ArrayList<>();
      List<Tomb> tombs = new ArrayList<>();
      for (int k = 0; k < count; k++) {
        long i = indexes[k];
        long own = idx.own(i);
        long inh = idx.inherited(i);
        boolean inheritedData = has(inh, RESOLVED) && ChunkIndex.depth(inh) > 0;
        if (has(own, TOMBSTONE) || (!has(own, PRESENT) && !inheritedData)) {
          continue; // reads as zeros already
        }
        long oe = ChunkIndex.epoch(own);
        boolean present = has(own, PRESENT);
        boolean keepOld = present && oe < e && oe <= maxPin;
        boolean older = has(own, OLDER) || keepOld;
        if (older || inheritedData) {
          tombs.add(new Tomb(i, older, present && oe < e && !keepOld ? oe : -1));
        } else {
          idx.setOwn(i, 0);
          garbage.add(Layout.chunkKey(dataVolume, i, oe));
        }
      }
      putTombstones(idx, tombs, e, garbage);
      if (!garbage.isEmpty()) {
        store.delete(garbage);
      }
    } finally {
      epochLock.readLock().unlock();
    }
  }

  /** A tombstone to write for chunk {@code index}; {@code supersededEpoch} is an own key to delete after, or -1. */
  private record Tomb(long index, boolean older, long supersededEpoch) {}

  /**
   * PUTs the tombstones, up to {@link #TOMBSTONE_PARALLELISM} at a time on virtual threads (a trim of a whole clone
   * writes one per inherited chunk). Each chunk's index entry changes only after its PUT succeeded; the first
   * failure is thrown after all finished.
   */
  private void putTombstones(ChunkIndex idx, List<Tomb> tombs, long e, List<String> garbage) throws IOException {
    if (tombs.isEmpty()) {
      return;
    }
    if (tombs.size() == 1) {
      putTombstone(idx, tombs.getFirst(), e);
    } else {
      Semaphore permits = new Semaphore(TOMBSTONE_PARALLELISM);
      List<Future<?>> futures = new ArrayList<>(tombs.size());
      try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
        for (Tomb t : tombs) {
          permits.acquireUninterruptibly();
          futures.add(pool.submit(() -> {
            try {
              putTombstone(idx, t, e);
              return null;
            } finally {
              permits.release();
            }
          }));
        }
      }
      IOException first = null;
      for (Future<?> f : futures) {
        try {
          f.get();
        } catch (ExecutionException ex) {
          if (first == null) {
            first = ex.getCause() instanceof IOException io ? io
                : new StoreException(Kind.PERMANENT, "tombstone write failed: " + ex.getCause(), ex.getCause());
          }
        } catch (InterruptedException ex) {
          Thread.currentThread().interrupt();
          throw new StoreException(Kind.TRANSIENT, "interrupted while writing tombstones");
        }
      }
      if (first != null) {
        throw first;
      }
    }
    lease.check();
    for (Tomb t : tombs) {
      if (t.supersededEpoch() >= 0) {
        garbage.add(Layout.chunkKey(dataVolume, t.index(), t.supersededEpoch()));
      }
    }
  }

  private void putTombstone(ChunkIndex idx, Tomb t, long e) throws IOException {
    store.put(Layout.chunkKey(dataVolume, t.index(), e), EMPTY);
    idx.setOwn(t.index(), ChunkIndex.ownEntry(e, true, t.older(), false));
  }

  private void deleteQuietly(List<String> keys) {
    try {
      store.delete(keys);
    } catch (IOException e) {
      log.warn("volume {}: could not delete {} replaced chunk version(s), left for garbage collection: {}",
          dataVolume, keys.size(), e.getMessage());
    }
  }

  /** Folds what the volume's log holds into its chunks and empties the log (a writable handle, at open). */
  void replayLog() throws IOException {
    checkWritable();
    writeLog.replay(this);
  }

  /** Takes the volume's log over as it is (a writable handle, at open); see {@link #takeAdoptedLog}. */
  void adoptLog() throws IOException {
    checkWritable();
    List<SegmentDirectory> segments = writeLog.adopt(this);
    synchronized (this) {
      adopted = segments;
    }
    adoptedSegments = segments.size();
  }

  /** How many segments {@link #adoptLog} took over (kept after {@link #takeAdoptedLog}). */
  int adoptedSegments() {
    return adoptedSegments;
  }

  @Override
  public synchronized List<SegmentDirectory> takeAdoptedLog() {
    List<SegmentDirectory> out = adopted;
    adopted = List.of();
    return out;
  }

  @Override
  public long nextLogSeq() {
    return writeLog.nextSeq();
  }

  @Override
  public void appendLog(long seq, ByteBuffer segment) throws IOException {
    checkWritable();
    epochLock.readLock().lock();
    try {
      lease.check();
      writeLog.append(seq, epoch, segment);
      lease.check(); // a PUT that outlived the lease is not acknowledged
    } finally {
      epochLock.readLock().unlock();
    }
  }

  @Override
  public void mergeLog(long first, long last, ByteBuffer segment) throws IOException {
    checkWritable();
    epochLock.readLock().lock();
    try {
      lease.check();
      writeLog.merge(first, last, segment);
      lease.check(); // as for appendLog: a merged PUT that outlived the lease is not acknowledged
    } finally {
      epochLock.readLock().unlock();
    }
  }

  @Override
  public void dropMerged(long first, long last) throws IOException {
    checkWritable(); // a fenced writer deletes nothing
    writeLog.dropMerged(first, last);
  }

  @Override
  public void readLog(long seq, int offset, ByteBuffer dst) throws IOException {
    writeLog.read(seq, seq, offset, dst);
  }

  @Override
  public void readLog(long first, long last, int offset, ByteBuffer dst) throws IOException {
    writeLog.read(first, last, offset, dst);
  }

  @Override
  public void trimLog(long throughSeq) throws IOException {
    checkWritable(); // includes the lease: a fenced writer deletes nothing while the next one lists for its replay
    writeLog.trim(throughSeq);
  }

  @Override
  public boolean isStored(long i) {
    return depth(i) > 0;
  }

  @Override
  public int depth(long i) {
    return chain.depth(i);
  }

  @Override
  public void snapshot(String snapshotId) throws IOException {
    checkWritable();
    epochLock.writeLock().lock();
    try {
      lease.check();
      VolumeCatalog.Taken t = catalog.takeSnapshot(dataVolume, snapshotId, requireOwner().id());
      epoch = t.manifest().epoch();
      maxPin = maxPin(t.manifest());
    } finally {
      epochLock.writeLock().unlock();
    }
  }

  @Override
  public void refresh() throws IOException {
    if (closed || snapshotView) {
      return;
    }
    VolumeManifest m = catalog.requireManifest(dataVolume);
    if (lease.owner() == null) {
      // a read-only view of a volume another gateway writes: start over from the store
      ChunkIndex fresh = chain.build(Math.max(size, m.sizeBytes()));
      epochLock.writeLock().lock();
      try {
        chain.install(fresh);
        size = Math.max(size, m.sizeBytes());
        epoch = m.epoch();
        maxPin = maxPin(m);
      } finally {
        epochLock.writeLock().unlock();
      }
      return;
    }
    if (m.sizeBytes() > size) {
      chain.grow(m.sizeBytes());
      size = m.sizeBytes();
      log.info("volume {}: size now {} bytes", dataVolume, size);
    }
    maxPin = Math.max(maxPin, maxPin(m));
  }

  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    lease.stop();
  }

  /** Chunks with data visible to this handle (for the open log line and tests). */
  long storedChunks() {
    return chain.storedChunks();
  }

  private static long maxPin(VolumeManifest m) {
    long max = -1;
    for (SnapshotPin p : m.snapshots().values()) {
      max = Math.max(max, p.epoch());
    }
    return max;
  }
}
