package io.bucketdisk.engine.cache;

import io.bucketdisk.store.outage.Outage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongConsumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One volume's dirty set: the chunks with changes not yet stored, pinned outside every evictable tier, with their
 * versions; and the per-index stripe stamps that let a load tell whether its chunk changed while it ran.
 *
 * <p><b>Transitions.</b> A chunk enters the set (clean or absent → dirty: a write, trim or zero) and leaves it (dirty
 * → clean: {@link #uploaded}) only inside {@code map.compute} for its index, so transitions of one index are atomic
 * with respect to each other. Entering takes the chunk's clean buffer out of both clean tiers of the
 * {@link ChunkCache}, or starts an empty one (a partial write to an uncached chunk records only its range; see
 * {@link ValidRanges}). Every transition bumps the index's stripe stamp; {@link #whileClean} runs a load's publication
 * only if the stamp did not move and the chunk is not dirty, so a stale load never overwrites newer data.
 *
 * <p><b>Invariants.</b> (1) A buffer in the set is dirty and is in neither clean tier. (2) Its charge of the
 * {@link DirtyLimiter} is what its {@link ChunkBytes} hold (a zeroed chunk weighs nothing): a writer reserves the
 * growth a write needs before it takes the buffer's monitor, and gives back what it did not use (the account is
 * {@link DirtyCharges}). (3) It leaves only when the store acknowledged exactly its current version; a change made
 * during an upload keeps it dirty, and its age then starts at that change.
 *
 * <p><b>Durability.</b> A write bumps its buffer's version before it returns, so {@link #flushTargets} taken when a
 * FLUSH starts covers every write that completed before it, on any connection. Nothing leaves the set without a
 * store acknowledgement, except {@link #dropAll} when the volume closes after a failed final flush.
 *
 * <p><b>Lock order.</b> map bin lock → {@link ChunkBuffer} monitor → {@link ChunkCache} / limiter internals. A thread
 * holding a buffer monitor never enters {@code map.compute}. Thread safe.
 */
final class DirtyChunks {
  private static final Logger log = LoggerFactory.getLogger(DirtyChunks.class);
  private static final int STRIPES = 4096;
  /** Retries of one chunk piece against concurrent transitions before giving up with EIO (never reached in practice). */
  static final int MAX_ATTEMPTS = 10_000;
  /** A write at least this large that makes a chunk dirty may be a sequential writer's (see {@link #streams}). */
  static final int SEQUENTIAL_PIECE = 64 << 10;

  /** A chunk as the dirty set sees it. */
  enum State {
    /** Not in the set: clean in memory, in the store, or nowhere (reads as zeros). */
    CLEAN,
    /** Dirty with bytes. */
    DATA,
    /** Dirty and zeroed (trimmed): reads as zeros; storing it is a delete. */
    ZEROED
  }

  private final ChunkOwner volume;
  private final StoredChunks store;
  private final VersionClock clock = new VersionClock();
  private final ChunkCache shared;
  private final DirtyCharges charges;
  private final int chunkSize;
  private final LongConsumer dirtied;
  private final FoldListener folded;
  /** Upload failures, logged once per kind per interval while they last, and the recovery. */
  private final Outage uploads;
  private final ConcurrentHashMap<Long, ChunkBuffer> map = new ConcurrentHashMap<>();
  private final AtomicLongArray stripes = new AtomicLongArray(STRIPES);

  /** Told, outside every lock, that a chunk is stored at a version (see {@link WriteLog#folded}). */
  @FunctionalInterface
  interface FoldListener {
    void folded(long index, long version);
  }

  /**
   * {@code dirtied} runs inside the transition of an index into the set: loads of it in flight are stale now;
   * {@code folded} after every acknowledged upload or delete.
   */
  DirtyChunks(ChunkOwner volume, StoredChunks store, ChunkCache shared, LongConsumer dirtied, FoldListener folded) {
    this.volume = volume;
    this.store = store;
    this.shared = shared;
    this.charges = new DirtyCharges(shared, store.volumeId());
    this.chunkSize = store.chunkSize();
    this.dirtied = dirtied;
    this.folded = folded;
    this.uploads = new Outage(log, "volume " + store.volumeId());
  }

  /** Makes every version handed out from now on higher than {@code floor} (the versions of an adopted log). */
  void versionsAbove(long floor) {
    clock.above(floor);
  }

  /** The highest version handed out so far. */
  long lastVersion() {
    return clock.last();
  }

  /** The stripe stamp of {@code index}: moves on every transition of any index of its stripe. */
  long stamp(long index) {
    return stripes.get((int) (index & (STRIPES - 1)));
  }

  @Nullable ChunkBuffer get(long index) {
    return map.get(index);
  }

  boolean contains(long index) {
    return map.containsKey(index);
  }

  boolean isEmpty() {
    return map.isEmpty();
  }

  /** The buffers in the set now (a weakly consistent view; read each under its monitor). */
  Collection<ChunkBuffer> buffers() {
    return map.values();
  }

  /** Waits until a transition of {@code index} that another thread is inside has ended. */
  void settle(long index) {
    map.computeIfPresent(index, (k, cur) -> cur);
  }

  /**
   * Runs {@code publish} inside the transition lock of {@code index} if the chunk is not dirty and its stamp is still
   * {@code stamp}; whether it ran. This is how a clean buffer enters a clean tier without racing a write.
   */
  boolean whileClean(long index, long stamp, Runnable publish) {
    boolean[] ran = {false};
    map.compute(index, (k, cur) -> {
      if (cur == null && stamp(k) == stamp) {
        ran[0] = true;
        publish.run();
      }
      return cur;
    });
    return ran[0];
  }

  State state(long index) {
    ChunkBuffer b = map.get(index);
    if (b == null) {
      return State.CLEAN;
    }
    synchronized (b) {
      return !b.dirty ? State.CLEAN : b.data == null ? State.ZEROED : State.DATA;
    }
  }

  /** Whether {@code index} has acknowledged changes not yet stored. */
  boolean notDurable(long index) {
    ChunkBuffer b = map.get(index);
    if (b == null) {
      return false;
    }
    synchronized (b) {
      return b.dirty && b.atRisk();
    }
  }

  // ---------------------------------------------------------------- changes

  /**
   * Writes {@code n} bytes of {@code src} (or zeros when null) at {@code off} in chunk {@code index}, waiting for dirty
   * space if the chunk is not dirty yet; adds the new version to {@code touched} (FUA). Returns the buffer when this
   * write completed the chunk (a sequential writer is likely done with it: upload it now), else null.
   */
  @Nullable ChunkBuffer write(long index, int off, int n, @Nullable ByteBuffer src, @Nullable List<FlushTarget> touched)
      throws IOException {
    try (DirtyCharges.Reservation reserved = charges.reservation()) {
      for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        ChunkBuffer b = map.get(index);
        if (b == null) {
          // a cached clean chunk becomes dirty whole (its bytes stay valid) if a whole chunk is reserved for it; not
          // above half the dirty cap, where whole chunks for small writes filled the cap 24 chunks at a time (a 4 KiB
          // random write after a sequential fill ran at 1.2-1.4k IOPS): there it starts sparse and its clean copy goes
          reserved.cover(streams(index, off, n) || shared.contains(new ChunkKey(volume, index))
              && !shared.limiter().underPressure() ? chunkSize : ChunkBytes.chargeAfter(chunkSize, off, n));
          b = map.computeIfAbsent(index, k -> becomeDirty(k, reserved));
        }
        boolean full = false;
        long needBudget = 0;
        boolean needSettle = false;
        synchronized (b) {
          if (!b.dirty) {
            needSettle = true;
          } else {
            if (b.data == null && src != null) {
              // a zeroed chunk (reads as zeros, fully valid) gets real bytes: sparse pages from now on, charged
              long need = ChunkBytes.chargeAfter(chunkSize, off, n);
              if (reserved.holds(need)) {
                b.data = ChunkBytes.sparse(chunkSize, shared.pages());
                reserved.charge(b, b.data.charge());
              } else {
                needBudget = need; // nobody waits for budget while holding a buffer monitor
              }
            }
            ChunkBytes d = b.data;
            long growth = d == null || src == null ? 0 : d.growth(off, n);
            if (needBudget == 0 && !reserved.holds(growth)) {
              needBudget = growth;
            }
            if (needBudget == 0) {
              if (d != null && src != null) {
                d.write(off, src, n);
                reserved.charge(b, growth);
              } else if (d != null) {
                d.zero(off, n);
              }
              boolean wasFull = b.valid.isFull();
              b.valid.add(off, off + n);
              b.unlogged.add(off, off + n);
              clock.change(b);
              if (touched != null) {
                touched.add(new FlushTarget(b, b.version, b.attemptSeq));
              }
              full = d != null && !wasFull && b.valid.isFull();
            }
          }
        }
        if (needSettle) {
          settle(index);
          continue;
        }
        if (needBudget > 0) {
          reserved.cover(needBudget);
          continue;
        }
        return full ? b : null;
      }
      throw new IOException("volume " + store.volumeId() + " chunk " + index + ": write did not settle");
    }
  }

  /**
   * Whether a write of {@code n} bytes at {@code off} that makes chunk {@code index} dirty looks like a sequential
   * writer's: a large piece at the chunk's start, or after a dirty chunk. Such a chunk starts whole (one array, no
   * pages to copy into one later).
   */
  private boolean streams(long index, int off, int n) {
    return n >= SEQUENTIAL_PIECE && (off == 0 || map.containsKey(index - 1));
  }

  /**
   * Turns chunk {@code index} into a zero tombstone (deleted from the store when it uploads), adding the new version
   * to {@code touched} (FUA); nothing at all when it already reads as zeros and the store has nothing to delete.
   */
  void zero(long index, @Nullable List<FlushTarget> touched) throws IOException {
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      ChunkBuffer b = map.get(index);
      if (b == null) {
        if (!store.isStored(index) && !shared.contains(new ChunkKey(volume, index))) {
          return;
        }
        b = map.computeIfAbsent(index, k -> becomeDirty(k, null));
      }
      boolean done;
      synchronized (b) {
        done = b.dirty;
        if (done) {
          charges.discharge(b);
          if (b.data != null) {
            b.data.release();
          }
          b.data = null;
          b.valid.setFull();
          b.unlogged.setFull();
          clock.change(b);
          if (touched != null) {
            touched.add(new FlushTarget(b, b.version, b.attemptSeq));
          }
        }
      }
      if (done) {
        return;
      }
      settle(index);
    }
    throw new IOException("volume " + store.volumeId() + " chunk " + index + ": zero did not settle");
  }

  /**
   * Inside {@code map.compute} for {@code k}: the buffer that becomes dirty, charged out of {@code reserved}. For data
   * ({@code reserved != null}) it is the chunk's clean buffer when one is cached and a whole chunk is reserved, else a
   * whole array ({@link ChunkCache#wholeArray}) when a whole chunk is reserved, else empty sparse pages (see
   * {@link ChunkBytes}); without, a zero tombstone that weighs nothing.
   */
  private ChunkBuffer becomeDirty(long k, DirtyCharges.@Nullable Reservation reserved) {
    ChunkBuffer c = shared.remove(new ChunkKey(volume, k));
    shared.removeFragments(volume, k, FragmentReads.granules(chunkSize));
    shared.removeFromDisk(volume, k, chunkSize);
    stripes.incrementAndGet((int) (k & (STRIPES - 1)));
    dirtied.accept(k);
    ChunkBuffer b;
    if (c != null && reserved != null && reserved.holds(chunkSize)) {
      b = c;
    } else {
      ChunkBytes bytes = reserved == null ? null
          : reserved.holds(chunkSize) ? ChunkBytes.whole(shared.wholeArray(chunkSize))
          : ChunkBytes.sparse(chunkSize, shared.pages());
      b = new ChunkBuffer(k, bytes, chunkSize);
      if (reserved == null) {
        b.valid.setFull();
      }
      if (c != null) {
        synchronized (c) {
          b.version = c.version;
          b.durableVersion = c.durableVersion;
        }
      }
    }
    synchronized (b) {
      b.unlogged.clear();
      b.dirty = true;
      b.charge = 0;
      if (b.data != null && reserved != null) {
        reserved.charge(b, b.data.charge());
      }
      b.dirtySinceNanos = System.nanoTime();
    }
    return b;
  }

  // ---------------------------------------------------------------- flush and upload results

  /** For a FLUSH: every chunk with changes neither stored nor logged, at the version it has now. */
  List<FlushTarget> flushTargets() {
    return targets(true);
  }

  /** For a snapshot or close: every chunk with changes not stored in its chunk object, at its version now. */
  List<FlushTarget> foldTargets() {
    return targets(false);
  }

  private List<FlushTarget> targets(boolean loggedCounts) {
    List<FlushTarget> targets = new ArrayList<>();
    for (ChunkBuffer b : map.values()) {
      synchronized (b) {
        long stored = loggedCounts ? Math.max(b.durableVersion, b.loggedVersion) : b.durableVersion;
        if (b.dirty && stored < b.version) {
          targets.add(new FlushTarget(b, b.version, b.attemptSeq));
        }
      }
    }
    return targets;
  }

  /** The store acknowledged version {@code v} of {@code b} (PUT, or DELETE when {@code zero}). */
  void uploaded(ChunkBuffer b, long v, boolean zero) {
    uploads.succeeded();
    map.compute(b.index, (k, cur) -> {
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
          charges.discharge(b);
          stripes.incrementAndGet((int) (k & (STRIPES - 1)));
          keepClean(b, zero);
          b.notifyAll();
          return null;
        }
        b.notifyAll();
        return cur;
      }
    });
    folded.folded(b.index, v);
  }

  /**
   * Lets dirty buffer {@code b} leave memory if a stored log segment holds all its changes and no upload runs or is
   * awaited: it
   * leaves the set (its charge released) and reads from then on come from {@link StoredChunks}; a fully valid buffer
   * is kept as a clean chunk. Whether it left.
   */
  boolean evict(ChunkBuffer b) {
    boolean[] left = {false};
    map.compute(b.index, (k, cur) -> {
      if (cur != b) {
        return cur;
      }
      synchronized (b) {
        if (!b.dirty || b.uploading || b.urgent || b.data == null || b.loggedVersion < b.version) {
          return cur;
        }
        b.dirty = false;
        b.urgent = false;
        b.queued = false;
        charges.discharge(b);
        stripes.incrementAndGet((int) (k & (STRIPES - 1)));
        keepClean(b, false);
        b.notifyAll();
        left[0] = true;
        return null;
      }
    });
    return left[0];
  }

  /**
   * {@code b} just left the set, stored or logged: a fully valid chunk with bytes stays as a clean chunk (made whole);
   * a partly valid one is dropped (reads come from the store). Caller holds the monitor inside the transition.
   */
  private void keepClean(ChunkBuffer b, boolean zero) {
    ChunkBytes d = b.data;
    if (d != null && !zero && b.valid.isFull()) {
      d.array();
      shared.admitUploaded(new ChunkKey(volume, b.index), b);
    } else if (d != null) {
      d.release();
      b.data = null;
    }
  }

  /** Upload attempt {@code seq} of {@code b} failed; the chunk stays dirty and retries after a second. */
  void uploadFailed(ChunkBuffer b, long seq, Throwable e) {
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

  /**
   * The volume closes after its final flush (which may have failed): every chunk still here is dropped (its charge
   * released); the number dropped whose last changes no log segment holds either, which the caller reports as lost
   * (a logged change comes back with the next open, which adopts the log).
   */
  int dropAll() {
    int lost = 0;
    for (ChunkBuffer b : map.values()) {
      synchronized (b) {
        charges.discharge(b);
        if (b.atRisk()) {
          lost++;
        }
        b.dirty = false;
      }
    }
    map.clear();
    return lost;
  }

  // ---------------------------------------------------------------- measurements

  /**
   * The changes neither stored nor logged (data at risk): the chunks (data and zeroed) that hold them, their bytes
   * (zeroed chunks weigh nothing) and the age of the oldest, 0 when there is none.
   */
  record AtRisk(int chunks, long bytes, long oldestAgeNanos) {}

  AtRisk atRisk() {
    long now = System.nanoTime();
    int chunks = 0;
    long bytes = 0;
    long oldest = 0;
    for (ChunkBuffer b : map.values()) {
      synchronized (b) {
        if (b.dirty && b.atRisk()) {
          chunks++;
          bytes += b.charge;
          oldest = Math.max(oldest, now - b.dirtySinceNanos);
        }
      }
    }
    return new AtRisk(chunks, bytes, oldest);
  }

  /**
   * Checks invariants (1) and (2) (for tests): every buffer here is dirty, charged exactly when it has data, and in
   * neither clean tier; returns the violations found.
   */
  List<String> invariantViolations() {
    List<String> out = new ArrayList<>();
    for (Long k : map.keySet()) {
      map.computeIfPresent(k, (key, b) -> {
        synchronized (b) {
          if (!b.dirty) {
            out.add("clean buffer in the dirty map: " + b);
          }
          String mismatch = DirtyCharges.mismatch(b);
          if (mismatch != null) {
            out.add(mismatch);
          }
        }
        ChunkKey ck = new ChunkKey(volume, key);
        if (shared.inCaffeine(ck)) {
          out.add("chunk " + key + " both dirty and in Caffeine");
        }
        if (shared.inRecent(ck)) {
          out.add("chunk " + key + " both dirty and recent");
        }
        return b;
      });
    }
    return out;
  }

  @Override
  public String toString() {
    return "dirty chunks of " + store.volumeId() + ": " + map.size();
  }
}
