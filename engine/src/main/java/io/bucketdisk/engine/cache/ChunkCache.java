package io.bucketdisk.engine.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import io.bucketdisk.store.ChunkStore;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * The gateway-wide chunk memory, shared by every open volume and bounded in bytes.
 *
 * <p><b>Budget.</b> {@link CacheConfig#cacheBytes()} = clean data ({@link CacheConfig#cleanBytes()}: half of it
 * for chunks loaded recently, {@link RecentChunks}, the rest a Caffeine cache with a byte weigher that holds whole
 * chunks and the 64 KiB granules small random reads fetched ({@link FragmentReads}), which compete in its admission) +
 * dirty chunks (held outside Caffeine, capped by the {@link DirtyLimiter}) + transfer buffers: upload scratch arrays
 * ({@link CacheConfig#uploadParallelism()} of them) and chunk loads in flight ({@link CacheConfig#loadParallelism()}).
 * What dirty data and transfers do not use now is lent to Caffeine ({@link #lendUnusedSpace}), so clean chunks use
 * every byte of the cache nothing else holds. Each part has its own hard bound, so {@link #residentBytes()} stays
 * within {@code cacheBytes} (eviction runs on the inserting thread, so the clean part overshoots by at most the entry
 * being inserted, for the duration of that insert; dirty bytes count before the lent space shrinks, one chunk for a
 * moment; a transfer buffer shrinks it before it is allocated).
 *
 * <p><b>Why dirty chunks are not in Caffeine.</b> Caffeine may evict any entry when over weight; a dirty chunk
 * evicted before its upload succeeded would be silent data loss. So a chunk is in exactly one of the two places:
 * Caffeine while clean, its volume's dirty map while dirty (pinned: nothing but a successful upload removes it).
 *
 * <p><b>The two clean tiers</b> are one place to the volumes: {@link #get}, {@link #contains} and {@link #remove} look
 * in both; {@link #admitLoaded} puts a fresh load in the recent tier, {@link #admitUploaded} a just-stored chunk in
 * Caffeine, and {@link #offer} hands what the recent tier pushed out to Caffeine's admission. A volume calls the
 * admitting methods only inside its dirty-map transition for the chunk, so a chunk is never clean and dirty at once.
 *
 * <p><b>Arrays are reused.</b> A whole chunk that Caffeine evicts (after the disk tier wrote it, when there is one)
 * is retired ({@link ChunkBuffer#retire}) and its array kept as a spare for the next load or whole dirty chunk
 * ({@link #wholeArray}): at most {@link #SPARES}, whose room in the transfer share is never lent to Caffeine, so an
 * eviction can keep one without the budget being over until the bound is lent again (clean chunks have that many
 * chunks less room, spares held or not). So a streaming reader's loads and a streaming writer's chunks mostly allocate
 * nothing once the cache is full: before, every load and every whole dirty chunk was a new 4 MiB array and every
 * eviction old garbage; a cold sequential read spent a third of its time in full collections, and writing 3 GiB at
 * 256M made 122-125 collections (26-28 full), 62-66 (13-14 full) once written chunks took spares.
 *
 * <p><b>The disk tier</b> ({@link DiskTier}, optional) is below both: what Caffeine evicts (including what the recent
 * tier pushed out and Caffeine's admission then refused) is queued for it with its chunk's stripe stamp, and reads
 * look there after RAM and before the store. It is not part of the byte budget; its own file bounds it.
 *
 * <p><b>Closing a volume</b> removes its clean chunks, in RAM and on disk, unless it parks them: a writable volume
 * that closed cleanly keeps its clean data (both tiers) for its next writable open if no other writer holds the
 * volume in between ({@link ParkedVolumes}), so a client that reconnects finds its working set cached.
 *
 * <p>Thread safe.
 */
public final class ChunkCache {
  /** Retired chunk arrays kept for loads, at most: a load's publication evicts about one chunk, the next load takes it. */
  static final int SPARES = 2;
  private final SegmentBuffers segmentBuffers = new SegmentBuffers();
  private final PagePool pages;
  /** Bytes of log segment spans read at once, gateway-wide ({@link SegmentReads}). */
  private final Semaphore logReadBytes = new Semaphore(SegmentReads.BUDGET, true);
  /** Log merges running at once, gateway-wide ({@link LogMerger}); separate from FLUSH's segment slots. */
  private final java.util.concurrent.Semaphore mergeSlots = new java.util.concurrent.Semaphore(2);
  private final CacheConfig config;
  /** Whole chunks ({@link ChunkKey} to {@link ChunkBuffer}) and granules ({@link FragmentKey} to byte[]). */
  private final Cache<CleanKey, Object> clean;
  private final RecentChunks recent;
  private final DirtyLimiter limiter;
  private final Semaphore loads;
  private final ConcurrentHashMap<Integer, ScratchChunks> pools = new ConcurrentHashMap<>();
  private final AtomicLong loadingBytes = new AtomicLong();
  /** Arrays of retired clean chunks, for the next loads; guarded by itself. */
  private final java.util.ArrayDeque<byte[]> spares = new java.util.ArrayDeque<>();
  private final AtomicLong spareBytes = new AtomicLong();
  private final java.util.concurrent.atomic.LongAdder reused = new java.util.concurrent.atomic.LongAdder();
  /** Caffeine's own share of the clean budget; it also holds the dirty and transfer shares not in use now. */
  private final long wholeBytes;
  /** The transfer share: upload scratch arrays and loads in flight. */
  private final long transferBytes;
  /** The room of {@link #SPARES} spares, kept out of the transfer share lent to Caffeine whether spares are held or not. */
  private final long spareRoom;
  /** The unit in which unused dirty and transfer space is lent ({@link #lendUnusedSpace}): a quarter chunk. */
  private final long lendStep;
  /** What {@link #lendUnusedSpace} last lent, over {@code wholeBytes}; guarded by this. */
  private long lent;
  private final @Nullable DiskTier disk;
  /** The open volumes whose clean data may go to the disk tier, and how it checks that it is still current. */
  private final ConcurrentHashMap<ChunkOwner, DiskTier.Guard> guards = new ConcurrentHashMap<>();
  private final ParkedVolumes parked = new ParkedVolumes(this::invalidate);

  public ChunkCache(CacheConfig config) {
    this(config, null);
  }

  /** With {@code disk} (may be null: none) below the clean RAM tiers; what they evict is written there. */
  public ChunkCache(CacheConfig config, @Nullable DiskTier disk) {
    this.config = config;
    this.disk = disk;
    long recentBytes = config.cleanBytes() / 2 / config.chunkSize() * config.chunkSize();
    this.recent = new RecentChunks(recentBytes);
    this.wholeBytes = Math.max(0, config.cleanBytes() - recentBytes);
    this.clean = Caffeine.newBuilder()
        .maximumWeight(wholeBytes)
        .weigher((CleanKey k, Object v) -> v instanceof ChunkBuffer b ? b.valid.limit() : ((byte[]) v).length)
        .executor(Runnable::run)
        .evictionListener((CleanKey k, Object v, RemovalCause cause) -> {
          if (k != null && v != null && cause.wasEvicted()) {
            evicted(k, v);
          }
        })
        .build();
    this.limiter = new DirtyLimiter(config.dirtyBytes());
    this.pages = PagePool.forDirtyBytes(config.dirtyBytes());
    this.transferBytes = (long) (config.uploadParallelism() + config.loadParallelism()) * config.chunkSize();
    this.lendStep = Math.max(1, config.chunkSize() / 4);
    this.spareRoom = (long) SPARES * config.chunkSize();
    limiter.onUsedChanged(this::lendUnusedSpace);
    lendUnusedSpace();
    this.loads = new Semaphore(config.loadParallelism(), true);
    if (disk != null) {
      disk.whenDone(v -> {
        if (v instanceof ChunkBuffer b) {
          retire(b);
        }
      });
    }
  }

  /**
   * Sets Caffeine's bound to its own share plus the dirty and transfer bytes not in use, so clean chunks use every
   * byte that dirty data and transfers do not; taking space shrinks it first (evicting at once, on this thread).
   * Serialized, and computed from the current use, so concurrent changes never leave a stale bound behind.
   */
  private synchronized void lendUnusedSpace() {
    long unusedDirty = Math.max(0, limiter.limit() - limiter.used());
    long unusedTransfer = Math.max(0, transferBytes - scratchBytes() - loadingBytes.get() - spareRoom);
    // whole steps only, rounded down: a 4 KiB write changes the bound once per step, not once per write
    long lend = (unusedDirty + unusedTransfer) / lendStep * lendStep;
    if (lend != lent) {
      lent = lend;
      clean.policy().eviction().orElseThrow().setMaximum(wholeBytes + lend);
    }
  }

  /**
   * Caffeine evicted clean {@code value}: queue it for the disk tier with its chunk's stripe stamp now, else retire a
   * whole chunk at once. Runs inside Caffeine's atomic removal, which a write's {@code becomeDirty} (removing the same
   * key) is ordered with, so the stamp is one at which these bytes were current. Changes no bound: the room of the
   * spare it may become is never lent.
   */
  private void evicted(CleanKey key, Object value) {
    DiskTier.Guard guard;
    if (disk == null || (guard = guards.get(key.owner())) == null) {
      if (value instanceof ChunkBuffer b) {
        retire(b);
      }
      return;
    }
    switch (key) {
      case ChunkKey c -> disk.offer(c.owner(), guard, c.index(), -1, value, ((ChunkBuffer) value).valid.limit(),
          guard.stamp(c.index()));
      case FragmentKey f -> disk.offer(f.owner(), guard, f.index(), f.granule(), value, ((byte[]) value).length,
          guard.stamp(f.index()));
    }
  }

  /** {@code b} left every clean tier for good: keep its array as a spare if it gives one and there is room. */
  private void retire(ChunkBuffer b) {
    byte[] array = b.retire(config.chunkSize());
    if (array != null) {
      keepSpare(array);
    }
  }

  /** Keeps {@code array} for a later load or dirty chunk if fewer than {@link #SPARES} are kept and there is room. */
  private void keepSpare(byte[] array) {
    synchronized (spares) {
      if (array.length == config.chunkSize() && spares.size() < SPARES
          && scratchBytes() + loadingBytes.get() + spareBytes.get() + array.length <= transferBytes) {
        spares.push(array);
        spareBytes.addAndGet(array.length);
      }
    }
  }

  /** A spare of {@code size} bytes, now counted as a load in flight (else null); or just taken if {@code counted}. */
  private byte @Nullable [] takeSpare(int size, boolean counted) {
    synchronized (spares) {
      byte[] a = size == config.chunkSize() ? spares.poll() : null;
      if (a != null) {
        spareBytes.addAndGet(-size);
        if (!counted) {
          loadingBytes.addAndGet(size);
        }
        reused.increment();
      }
      return a;
    }
  }

  /** Bytes of retired arrays kept for loads now (tests). */
  long spareBytes() {
    return spareBytes.get();
  }

  /** Loads and whole dirty chunks that took a retired chunk's array instead of a new one (tests). */
  long reusedArrays() {
    return reused.sum();
  }

  /** The disk tier, if there is one. */
  public java.util.Optional<DiskTier> disk() {
    return java.util.Optional.ofNullable(disk);
  }

  /** Lets {@code owner}'s evicted clean data go to the disk tier, published only while {@code guard} allows. */
  void attach(ChunkOwner owner, DiskTier.Guard guard) {
    if (disk != null) {
      guards.put(owner, guard);
    }
  }

  /** Granule {@code granule} of chunk {@code index} from the disk tier into {@code dst}; whether it was there. */
  boolean diskRead(ChunkOwner owner, long index, int granule, java.nio.ByteBuffer dst) {
    return disk != null && disk.read(owner, index, granule, dst);
  }

  /** The first {@code length} bytes of chunk {@code index} from the disk tier; whether all were there. */
  boolean diskReadChunk(ChunkOwner owner, long index, byte[] dst, int length) {
    return disk != null && disk.readChunk(owner, index, dst, length);
  }

  /** Drops chunk {@code index} (of {@code chunkSize}) from the disk tier (it becomes dirty); inside its transition. */
  void removeFromDisk(ChunkOwner owner, long index, int chunkSize) {
    if (disk != null) {
      disk.removeChunk(owner, index, (chunkSize + DiskTier.SLOT - 1) / DiskTier.SLOT);
    }
  }

  /** Caffeine's current bound: its own share plus what is lent (tests). */
  long caffeineBound() {
    return clean.policy().eviction().orElseThrow().getMaximum();
  }

  private long scratchBytes() {
    long n = 0;
    for (ScratchChunks p : pools.values()) {
      n += (long) p.held() * p.bufferSize();
    }
    return n;
  }

  public CacheConfig config() {
    return config;
  }

  public DirtyLimiter limiter() {
    return limiter;
  }

  /** The clean buffer of {@code key} from either tier (a use: it counts for recency and frequency), or null. */
  @Nullable ChunkBuffer get(ChunkKey key) {
    ChunkBuffer b = recent.get(key);
    return b != null ? b : (ChunkBuffer) clean.getIfPresent(key);
  }

  /** Whether {@code key} is held clean in either tier, without counting it as a use. */
  boolean contains(ChunkKey key) {
    return recent.contains(key) || clean.asMap().containsKey(key);
  }

  /** Whether {@code key} is in the recent tier (for invariant checks). */
  boolean inRecent(ChunkKey key) {
    return recent.contains(key);
  }

  /** Whether {@code key} is in Caffeine (for invariant checks). */
  boolean inCaffeine(ChunkKey key) {
    return clean.asMap().containsKey(key);
  }

  /** Takes {@code key} out of both tiers (a write takes its buffer over); the buffer, or null. */
  @Nullable ChunkBuffer remove(ChunkKey key) {
    ChunkBuffer c = (ChunkBuffer) clean.asMap().remove(key);
    ChunkBuffer r = recent.remove(key);
    return c != null ? c : r;
  }

  /**
   * A chunk just loaded at stripe stamp {@code stamp}: into the recent tier unless Caffeine holds it already;
   * returns what the recent tier pushed out, to be {@link #offer}ed once the caller left its transition.
   */
  List<RecentChunks.Evicted> admitLoaded(ChunkKey key, ChunkBuffer buffer, long stamp, boolean readAhead) {
    if (clean.asMap().containsKey(key)) {
      return List.of();
    }
    return recent.put(key, buffer, stamp, readAhead);
  }

  /** A chunk whose upload made it clean: into Caffeine. */
  void admitUploaded(ChunkKey key, ChunkBuffer buffer) {
    clean.put(key, buffer);
  }

  /** A chunk the recent tier pushed out: Caffeine keeps it if its admission wants it. */
  void offer(RecentChunks.Evicted e) {
    clean.asMap().putIfAbsent(e.key(), e.buffer());
  }

  /** The bytes of granule {@code key} (a use), or null. */
  byte @Nullable [] fragment(FragmentKey key) {
    return (byte[]) clean.getIfPresent(key);
  }

  /** A granule just fetched; the caller is inside the chunk's transition ({@link DirtyChunks#whileClean}). */
  void admitFragment(FragmentKey key, byte[] bytes) {
    clean.put(key, bytes);
  }

  /** Drops the {@code granules} granules of chunk {@code index} (it becomes dirty); inside its transition. */
  void removeFragments(ChunkOwner owner, long index, int granules) {
    for (int g = 0; g < granules; g++) {
      clean.invalidate(new FragmentKey(owner, index, g));
    }
  }

  /** The recent tier's size: half the clean budget, in bytes. */
  long recentCapacityBytes() {
    return recent.capacityBytes();
  }

  /** Read-ahead chunks in the recent tier that no reader has asked for yet. */
  int unreadReadAhead() {
    return recent.unread();
  }

  /**
   * Takes one of the {@code loadParallelism} load slots (blocks while all are taken; give it back with {@link
   * #loadDone}), counts a chunk of {@code chunkSize} in flight, and returns the array to load into: a spare, else a
   * new one, allocated after Caffeine's bound shrank for it.
   */
  byte[] loadStarted(int chunkSize) throws InterruptedException {
    loads.acquire();
    byte[] a = takeSpare(chunkSize, false);
    if (a != null) {
      lendUnusedSpace(); // the load's bytes are no spare's room: Caffeine gives them back
      return a;
    }
    loadingBytes.addAndGet(chunkSize);
    lendUnusedSpace();
    a = takeSpare(chunkSize, true); // what the shrink evicted
    return a != null ? a : new byte[chunkSize];
  }

  /**
   * An array of {@code size} zero bytes for a whole dirty chunk, which the caller's dirty reservation already counts: a
   * spare (cleared: it held another chunk, maybe of another volume), else a new one.
   */
  byte[] wholeArray(int size) {
    byte[] a = takeSpare(size, true);
    if (a == null) {
      return new byte[size];
    }
    java.util.Arrays.fill(a, (byte) 0);
    return a;
  }

  /** A load's array that holds no chunk (none stored, or the load went stale): a spare if there is room. */
  void loadUnused(byte[] array) {
    keepSpare(array);
  }

  /** The bytes of a load stop counting (before they may count as a clean chunk). */
  void loadBytesDone(int chunkSize) {
    loadingBytes.addAndGet(-chunkSize);
    lendUnusedSpace();
  }

  /** Gives back a load slot taken by {@link #loadStarted}. */
  void loadDone() {
    loads.release();
  }

  /** Log segment buffers, gateway-wide: at most {@link SegmentBuffers#IN_FLIGHT} segments built or stored at once. */
  SegmentBuffers segmentBuffers() {
    return segmentBuffers;
  }

  /** Free pages of dirty chunks, gateway-wide. */
  PagePool pages() {
    return pages;
  }

  /** Bytes of log segment spans being read, gateway-wide: every volume's {@link SegmentReads} takes them here. */
  Semaphore logReadBytes() {
    return logReadBytes;
  }

  /** Log merges running at once, gateway-wide: each holds its run and the merged segment in memory. */
  java.util.concurrent.Semaphore mergeSlots() {
    return mergeSlots;
  }

  /** Scratch buffers of {@code chunkSize}, as many as the upload parallelism. */
  ScratchChunks scratch(int chunkSize) {
    return pools.computeIfAbsent(chunkSize, s -> new ScratchChunks(s, config.uploadParallelism(), this::lendUnusedSpace));
  }

  /** Bytes of clean data held now (recent loads, whole chunks and fragments). */
  public long cleanBytes() {
    clean.cleanUp();
    return recent.bytes() + clean.policy().eviction().orElseThrow().weightedSize().orElse(0);
  }

  /**
   * Clean + dirty + scratch arrays held (in use or kept) + loads in flight + spares: everything this cache holds now.
   * Dirty and transfer bytes count when reserved, and the shrink a reservation causes evicts (under this monitor, in
   * {@link #lendUnusedSpace}) before the reserving thread allocates anything; read under the same monitor, this never
   * counts both the chunks being evicted and the reservation that evicts them (on a loaded machine a test saw 16
   * chunks of a 14-chunk bound that way: memory that never existed at once).
   */
  public synchronized long residentBytes() {
    return cleanBytes() + limiter.used() + scratchBytes() + loadingBytes.get() + spareBytes.get();
  }

  /**
   * Keeps {@code owner}'s clean data, in RAM and on disk, for the next writable open of its volume under the tenure
   * after {@code tenure} ({@link ParkedVolumes}): nothing writes it meanwhile, so what its recent tier
   * pushes out goes straight to Caffeine's admission, and what Caffeine evicts of it is not written to disk (no guard).
   */
  void park(VolumeOwner owner, ChunkStore.Tenure tenure, long version) {
    guards.remove(owner);
    owner.demoteTo(this::offer);
    parked.park(owner, tenure, version);
  }

  /** What a volume opened under {@code tenure} may take back of its parked clean data, or null. */
  ParkedVolumes.@Nullable Parked reopen(ChunkStore.@Nullable Tenure tenure) {
    return parked.reopen(tenure);
  }

  /** Number of closed volumes whose clean data is kept (tests). */
  int parkedVolumes() {
    return parked.size();
  }

  /** Drops every clean chunk of {@code owner} (its volume closed). */
  void invalidate(ChunkOwner owner) {
    guards.remove(owner);
    recent.removeVolume(owner);
    clean.asMap().keySet().removeIf(k -> k.owner() == owner);
    if (disk != null) {
      disk.invalidate(owner);
    }
  }
}
