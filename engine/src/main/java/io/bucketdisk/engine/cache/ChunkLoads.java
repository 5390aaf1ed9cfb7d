package io.bucketdisk.engine.cache;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One volume's chunk loads in flight: at most one GET per chunk at a time, whoever asks for it (a reader, read-ahead,
 * NBD CACHE), and its publication into the recent tier of the {@link ChunkCache}.
 *
 * <p><b>Dedup.</b> A load is a future in {@code loading} under its index; a reader that finds one joins it instead of
 * issuing a second GET. {@link DirtyChunks} forgets the entry ({@link #forget}) when the chunk becomes dirty, so later
 * readers do not join a load that is stale already.
 *
 * <p><b>Staleness.</b> A load records the index's stripe stamp before it looks anywhere and publishes its bytes only
 * through {@link DirtyChunks#whileClean} with that stamp: if the chunk became dirty (or clean again after an upload)
 * meanwhile, the result is marked stale and its readers retry from the top. A stale load never overwrites newer data.
 *
 * <p><b>Budget.</b> Every load holds one of the cache's {@code loadParallelism} slots and counts as a chunk in flight
 * until just before it is published, so its bytes are never counted twice. Read-ahead is bounded further: at most
 * twice {@code readAheadChunks} run at once per volume, and none start while a quarter of the recent tier holds
 * read-ahead that nobody has read yet.
 *
 * <p>Thread safe.
 */
final class ChunkLoads {
  private static final Logger log = LoggerFactory.getLogger(ChunkLoads.class);

  /**
   * A finished load: the chunk's clean buffer (null: reads as zeros), or stale (retry). Copy out of the buffer with
   * {@link ChunkBuffer#copyIfLive}: by the time a reader copies, the cache may have evicted and retired it.
   */
  record Result(@Nullable ChunkBuffer buffer, boolean stale) {}

  private final ChunkOwner volume;
  private final StoredChunks store;
  private final ChunkCache shared;
  private final DirtyChunks dirty;
  private final CacheCounters counters;
  private final BooleanSupplier closed;
  private final int chunkSize;
  private final ConcurrentHashMap<Long, CompletableFuture<Result>> loading = new ConcurrentHashMap<>();
  private final AtomicInteger prefetching = new AtomicInteger();

  /** {@code closed}: whether the volume closed (a chunk pushed out of the recent tier then goes nowhere). */
  ChunkLoads(ChunkOwner volume, StoredChunks store, ChunkCache shared, DirtyChunks dirty, CacheCounters counters,
      BooleanSupplier closed) {
    this.volume = volume;
    this.store = store;
    this.shared = shared;
    this.dirty = dirty;
    this.counters = counters;
    this.closed = closed;
    this.chunkSize = store.chunkSize();
  }

  /** Chunk {@code index} became dirty: a load of it in flight is stale, and nobody new may join it. */
  void forget(long index) {
    loading.remove(index);
  }

  /** Whether chunk {@code index} is held clean (either tier), without counting it as a use. */
  boolean cached(long index) {
    return shared.contains(new ChunkKey(volume, index));
  }

  /** Loads chunk {@code index} for a reader that saw stamp {@code stamp}, or joins the load in flight; waits for it. */
  Result load(long index, long stamp) throws IOException {
    CompletableFuture<Result> f = loading.get(index);
    if (f == null) {
      CompletableFuture<Result> mine = new CompletableFuture<>();
      f = loading.putIfAbsent(index, mine);
      if (f == null) {
        if (cached(index)) {
          // another load published it between this reader's look and its claim: read that, fetch nothing
          loading.remove(index, mine);
          return new Result(null, true);
        }
        run(index, stamp, mine, false);
        f = mine;
      }
    }
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted reading volume " + store.volumeId() + " chunk " + index);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      throw cause instanceof IOException io
          ? new IOException("volume " + store.volumeId() + " chunk " + index + ": " + io.getMessage(), io)
          : new IOException("volume " + store.volumeId() + " chunk " + index + ": load failed", cause);
    }
  }

  /**
   * Starts a background load of {@code index} (read-ahead) unless it is cached, dirty, loading or absent, too many
   * run, or the recent tier is a quarter full of read-ahead nobody has read yet: the rest is for the chunks readers
   * are in (more would push out chunks before their read).
   */
  void prefetch(long index) {
    long stamp = dirty.stamp(index);
    if (index < 0 || (index * chunkSize) >= store.size() || dirty.contains(index) || loading.containsKey(index)
        || cached(index) || !store.isStored(index)) {
      return;
    }
    if (prefetching.get() + shared.unreadReadAhead() >= shared.recentCapacityBytes() / 4 / chunkSize) {
      return;
    }
    if (prefetching.incrementAndGet() > 2 * Math.max(1, shared.config().readAheadChunks())) {
      prefetching.decrementAndGet();
      return;
    }
    CompletableFuture<Result> mine = new CompletableFuture<>();
    if (loading.putIfAbsent(index, mine) != null) {
      prefetching.decrementAndGet();
      return;
    }
    counters.readAheadStarted();
    Thread.ofVirtual().name("prefetch-" + store.volumeId() + "-" + index).start(() -> {
      try {
        run(index, stamp, mine, true);
      } finally {
        prefetching.decrementAndGet();
      }
    });
  }

  /**
   * NBD CACHE: loads chunks {@code [first, last]} that are stored and neither cached, dirty nor loading, in parallel,
   * and waits for them (and for loads of the range already in flight). Advisory: a failed load is logged and ignored.
   */
  void loadAll(long first, long last) throws IOException {
    List<CompletableFuture<Result>> pending = new ArrayList<>();
    for (long i = first; i <= last; i++) {
      long stamp = dirty.stamp(i);
      if (dirty.contains(i) || cached(i) || !store.isStored(i)) {
        continue;
      }
      CompletableFuture<Result> mine = new CompletableFuture<>();
      CompletableFuture<Result> existing = loading.putIfAbsent(i, mine);
      if (existing != null) {
        pending.add(existing);
        continue;
      }
      counters.readAheadStarted();
      long index = i;
      Thread.ofVirtual().name("cache-" + store.volumeId() + "-" + i).start(() -> run(index, stamp, mine, false));
      pending.add(mine);
    }
    for (CompletableFuture<Result> f : pending) {
      try {
        f.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted");
      } catch (ExecutionException e) {
        // CACHE is advisory (NBD spec "NBD_CMD_CACHE"): a failed prefetch changes nothing for later I/O.
        log.debug("volume {} prefetch failed: {}", store.volumeId(), e.getCause().toString());
      }
    }
  }

  /**
   * Loads chunk {@code index} and completes {@code f}; publishes it as a recent clean chunk only if nothing changed
   * since {@code stamp}. A {@code readAhead} chunk counts as unread until a reader hits it.
   */
  private void run(long index, long stamp, CompletableFuture<Result> f, boolean readAhead) {
    boolean slot = false;
    boolean counted = false;
    try {
      byte[] data = shared.loadStarted(chunkSize);
      slot = true;
      counted = true;
      boolean stored;
      // the disk tier's copy is current (see DiskTier), else the store; the stamp check below covers both
      stored = shared.diskReadChunk(volume, index, data, chunkSize) || store.read(index, ByteBuffer.wrap(data));
      ChunkBuffer result = stored ? ChunkBuffer.clean(index, data) : null;
      if (!stored) {
        shared.loadUnused(data);
      }
      List<RecentChunks.Evicted> out = new ArrayList<>(0);
      // the buffer stops counting as a load before it can count as a clean chunk: never both at once
      shared.loadBytesDone(chunkSize);
      counted = false;
      ChunkKey key = new ChunkKey(volume, index);
      boolean fresh = dirty.whileClean(index, stamp, () -> {
        if (result != null) {
          out.addAll(shared.admitLoaded(key, result, stamp, readAhead));
        }
      });
      loading.remove(index, f);
      f.complete(new Result(fresh ? result : null, !fresh));
      if (!fresh && stored) {
        shared.loadUnused(data); // nobody reads a stale load
      }
      for (RecentChunks.Evicted e : out) {
        e.key().owner().demote(e);
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
        shared.loadBytesDone(chunkSize);
      }
      if (slot) {
        shared.loadDone();
      }
    }
  }

  /**
   * A chunk of this volume left the recent tier: offer it to Caffeine, unless it changed since it was loaded (stripe
   * stamp) or the volume closed. Runs inside the chunk's dirty-set transition, like every clean/dirty change.
   */
  void demote(RecentChunks.Evicted e) {
    dirty.whileClean(e.key().index(), e.stamp(), () -> {
      if (!closed.getAsBoolean()) {
        shared.offer(e);
      }
    });
  }
}
