package io.bucketdisk.engine.cache;

import io.bucketdisk.engine.EngineException;
import io.bucketdisk.store.StoreException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides when one volume's dirty chunks go to the store, and lets FLUSH and FUA wait for them.
 *
 * <p><b>Design.</b> A dispatcher virtual thread takes upload requests from a queue and, every tick, scans the
 * {@link DirtyChunks} for chunks that are due: older than {@link CacheConfig#maxDirtyAge()} (the loss window), waiting
 * for a retry after a failure, or, while the {@link DirtyLimiter} is more than half full, quiet ones. Each data chunk
 * uploads on its own virtual thread through the {@link ChunkUploader}, at most {@code uploadParallelism} at a time;
 * zeroed chunks are collected and deleted in batches.
 *
 * <p><b>Pressure.</b> While the limiter is more than half full, a chunk rewritten whole that no log segment names
 * uploads early once it stopped changing for {@code maxDirtyAge / 4} (else it would be dirty again right after its
 * PUT and free nothing), quietest first, unless writers already wait for space: one PUT stores its bytes once. Every
 * other dirty chunk with data (partly written, or named by the log) leaves memory through the log instead: its
 * unlogged changes go into one segment for all of them ({@link WriteLog#log}), then it is evicted
 * ({@link DirtyChunks#evict}) and reads come from {@link StoredChunks}. That costs one PUT of the changed bytes per
 * round instead of a GET and a PUT of a whole chunk per chunk; folding them is the {@link LogCompactor}'s job.
 *
 * <p><b>Age.</b> A chunk whose oldest change neither stored nor logged is older than {@code maxDirtyAge} is logged
 * when it is partial or the log names it (one segment for all such chunks), else uploaded; a logged chunk has no age
 * until it changes again.
 *
 * <p><b>Contract.</b> At most one upload per chunk runs at a time ({@code uploading}), as {@code ChunkStore} requires.
 * A chunk rewritten during its upload is not uploaded again at once: its age restarts at that rewrite.
 *
 * <p><b>Waiting</b> ({@link #awaitDurable}): a waiter holds (buffer, version, attempt number at registration) and
 * returns when the durable version reaches its version; it fails with {@link EngineException.Kind#IO} when an upload
 * attempt started after its registration failed (so every FLUSH tries the upload at least once and no FLUSH succeeds
 * while a covered chunk cannot be stored), with {@link EngineException.Kind#FENCED} when that failure was the store
 * refusing a gateway that lost its lease, or after {@link CacheConfig#flushTimeout()}.
 *
 * <p>Thread safe.
 */
final class UploadScheduler implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(UploadScheduler.class);
  private static final long TICK_MILLIS = 100;
  private static final int DELETE_BATCH = 1000;
  /** A partly written chunk changed this recently is being written: under pressure it is logged last. */
  private static final long HOT_NANOS = TimeUnit.MILLISECONDS.toNanos(2 * TICK_MILLIS);
  /**
   * Scans of the whole dirty set at most this often. Above half the dirty cap every write that takes dirty space wakes
   * the dispatcher; scanning on each wake scanned back to back (5.7 GB of candidate lists and a core's worth of
   * monitor traffic in a 30 s random write). Queued requests (FLUSH, FUA, completed chunks) never wait for it.
   */
  static final long SCAN_GAP_NANOS = TimeUnit.MILLISECONDS.toNanos(5);

  /** A chunk that may upload early to relieve dirty-space pressure, with its last change time when seen. */
  private record Candidate(ChunkBuffer buffer, long lastChangeNanos) {}

  private final String volumeId;
  private final CacheConfig config;
  private final DirtyLimiter limiter;
  private final DirtyChunks dirty;
  private final ChunkUploader uploader;
  private final BooleanSupplier volumeClosed;
  private final Runnable afterRound;
  private final WriteLog writeLog;
  private final CacheCounters counters;
  private final java.util.concurrent.atomic.AtomicBoolean relieving = new java.util.concurrent.atomic.AtomicBoolean();
  private final ConcurrentLinkedQueue<ChunkBuffer> queue = new ConcurrentLinkedQueue<>();
  private final Semaphore wake = new Semaphore(0);
  private final Runnable pressureListener = this::wake;
  private final Semaphore uploads;
  private volatile boolean closed;
  /** When the dispatcher last scanned the dirty set; its thread only. */
  private long lastScanNanos = System.nanoTime() - SCAN_GAP_NANOS;
  private @Nullable Thread dispatcher;

  /** {@code afterRound} runs on the dispatcher after every round (trimming the write log); it must not block. */
  UploadScheduler(String volumeId, ChunkCache shared, DirtyChunks dirty, ChunkUploader uploader, WriteLog writeLog,
      CacheCounters counters, BooleanSupplier volumeClosed, Runnable afterRound) {
    this.afterRound = afterRound;
    this.writeLog = writeLog;
    this.counters = counters;
    this.volumeId = volumeId;
    this.config = shared.config();
    this.limiter = shared.limiter();
    this.dirty = dirty;
    this.uploader = uploader;
    this.volumeClosed = volumeClosed;
    this.uploads = new Semaphore(config.uploadParallelism());
  }

  void start() {
    limiter.addPressureListener(pressureListener);
    dispatcher = Thread.ofVirtual().name("writeback-" + volumeId).start(this::run);
  }

  void wake() {
    if (wake.availablePermits() == 0) {
      wake.release();
    }
  }

  /** Queues {@code b} for upload; {@code urgent} when a FLUSH or FUA waits for it; {@code wakeNow} to dispatch at once. */
  void requestUpload(ChunkBuffer b, boolean urgent, boolean wakeNow) {
    synchronized (b) {
      if (urgent) {
        b.urgent = true;
      }
      if (b.queued || !b.dirty) {
        return;
      }
      b.queued = true;
    }
    queue.add(b);
    if (wakeNow) {
      wake();
    }
  }

  /**
   * Returns when every target is durable at its version: stored in its chunk object, or with {@code loggedCounts} in
   * a log segment too (the caller logged first; what is left is uploads in flight). A target that left memory through
   * the log counts as logged either way: only the {@link LogCompactor} folds it now. Fails when an upload for it
   * failed or timed out.
   */
  void awaitDurable(List<FlushTarget> targets, boolean loggedCounts) throws IOException {
    if (targets.isEmpty()) {
      return;
    }
    if (!loggedCounts) {
      for (FlushTarget t : targets) {
        requestUpload(t.buffer(), true, false);
      }
      wake();
    }
    long deadline = System.nanoTime() + config.flushTimeout().toNanos();
    for (FlushTarget t : targets) {
      ChunkBuffer b = t.buffer();
      synchronized (b) {
        while ((loggedCounts || !b.dirty ? Math.max(b.durableVersion, b.loggedVersion) : b.durableVersion)
            < t.version()) {
          if (b.failedSeq > t.attemptSeq()) {
            throw new EngineException(fencedBy(b.failure) ? EngineException.Kind.FENCED : EngineException.Kind.IO,
                "volume " + volumeId + " chunk " + b.index + " could not be stored: " + b.failure, b.failure);
          }
          if (volumeClosed.getAsBoolean() && !b.dirty) {
            throw new EngineException(EngineException.Kind.IO, "volume " + volumeId + " closed before chunk "
                + b.index + " was stored");
          }
          if (!b.uploading && !b.queued) {
            b.urgent = true;
            b.queued = true;
            queue.add(b);
            wake();
          }
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            throw new EngineException(EngineException.Kind.IO, "volume " + volumeId + " chunk " + b.index
                + " not stored within " + config.flushTimeout());
          }
          try {
            b.wait(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 1000)));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for chunk " + b.index);
          }
        }
      }
    }
  }

  /** The store refused the upload because this gateway's lease is gone (see {@code ChunkStore.write}). */
  private static boolean fencedBy(@Nullable IOException failure) {
    return failure instanceof StoreException se && se.kind() == StoreException.Kind.CONFLICT;
  }

  private void run() {
    while (!closed) {
      try {
        wake.tryAcquire(TICK_MILLIS, TimeUnit.MILLISECONDS);
        long gap;
        while ((gap = lastScanNanos + SCAN_GAP_NANOS - System.nanoTime()) > 0 && queue.isEmpty() && !closed) {
          wake.drainPermits();
          wake.tryAcquire(gap, TimeUnit.NANOSECONDS);
        }
        wake.drainPermits();
        if (closed) {
          break;
        }
        dispatchRound();
        afterRound.run();
      } catch (InterruptedException e) {
        if (closed) {
          break;
        }
      } catch (RuntimeException e) {
        log.error("volume {}: write-back dispatcher error", volumeId, e);
      }
    }
  }

  private void dispatchRound() throws InterruptedException {
    List<ChunkBuffer> due = new ArrayList<>();
    ChunkBuffer q;
    while ((q = queue.poll()) != null) {
      due.add(q);
    }
    long now = System.nanoTime();
    if (now - lastScanNanos >= SCAN_GAP_NANOS) {
      lastScanNanos = now;
      due.addAll(scanDue(!due.isEmpty()));
    }
    List<ChunkBuffer> deletes = new ArrayList<>();
    List<Long> deleteVersions = new ArrayList<>();
    List<Long> deleteSeqs = new ArrayList<>();
    for (ChunkBuffer b : due) {
      long seq;
      long version;
      boolean zero;
      synchronized (b) {
        b.queued = false;
        if (!b.dirty || b.uploading || b.durableVersion >= b.version) {
          continue;
        }
        b.uploading = true;
        seq = ++b.attemptSeq;
        zero = b.data == null;
        version = b.version;
        if (zero) {
          b.uploadVersion = version;
        }
      }
      if (zero) {
        deletes.add(b);
        deleteVersions.add(version);
        deleteSeqs.add(seq);
        if (deletes.size() == DELETE_BATCH) {
          startDeletes(deletes, deleteVersions, deleteSeqs);
          deletes = new ArrayList<>();
          deleteVersions = new ArrayList<>();
          deleteSeqs = new ArrayList<>();
        }
      } else {
        uploads.acquire();
        Thread.ofVirtual().name("upload-" + volumeId + "-" + b.index).start(() -> {
          try {
            if (uploader.upload(b, seq)) {
              requeueIfWaited(b);
            }
          } finally {
            uploads.release();
          }
        });
      }
    }
    if (!deletes.isEmpty()) {
      startDeletes(deletes, deleteVersions, deleteSeqs);
    }
  }

  /**
   * The partly written chunks to log under pressure: all of them, or, while whole chunks upload or wait to
   * ({@code uploadsRelieve}), only those unchanged for {@link #HOT_NANOS}. A sequential writer's chunk in progress is
   * whole a moment later and stores as one PUT; logged now, it would be named by the log and go through it whole,
   * then be folded: twice its bytes.
   */
  private static List<ChunkBuffer> coldFirst(List<Candidate> partial, long now, boolean uploadsRelieve) {
    List<ChunkBuffer> out = new ArrayList<>(partial.size());
    for (Candidate c : partial) {
      if (!uploadsRelieve || now - c.lastChangeNanos() >= HOT_NANOS) {
        out.add(c.buffer());
      }
    }
    return out;
  }

  private int uploadsInFlight() {
    return config.uploadParallelism() - uploads.availablePermits();
  }

  /**
   * The dirty chunks due now (age, retry, pressure), each marked queued; {@code requested} when this round starts
   * requested uploads too (queued, so the scan skips them, but relieving as much as uploads in flight).
   */
  private List<ChunkBuffer> scanDue(boolean requested) {
    List<ChunkBuffer> due = new ArrayList<>();
    long now = System.nanoTime();
    long maxAge = config.maxDirtyAge().toNanos();
    boolean pressure = limiter.underPressure();
    boolean starving = pressure && limiter.writersWaiting();
    long quietNanos = maxAge / 4;
    List<Candidate> quiet = pressure ? new ArrayList<>() : List.of();
    List<Candidate> evictable = pressure ? new ArrayList<>() : List.of();
    List<ChunkBuffer> aged = new ArrayList<>();
    for (ChunkBuffer b : dirty.buffers()) {
      synchronized (b) {
        if (!b.dirty || b.uploading || b.queued || b.durableVersion >= b.version) {
          continue;
        }
        boolean retryDue = b.failure != null && now - b.retryAfterNanos >= 0;
        boolean old = b.failure == null && b.atRisk() && now - b.dirtySinceNanos >= maxAge;
        // partly written, or named by the log: it leaves through the log, not by a GET and a PUT of the chunk
        boolean viaLog = b.data != null && (!b.valid.isFull() || writeLog.holds(b.index));
        if (old && viaLog) {
          aged.add(b);
        } else if (old || retryDue) {
          b.queued = true;
          due.add(b);
        } else if (pressure && b.failure == null && b.data != null) {
          if (viaLog) {
            evictable.add(new Candidate(b, b.lastChangeNanos));
          } else if (starving || now - b.lastChangeNanos >= quietNanos) {
            quiet.add(new Candidate(b, b.lastChangeNanos));
          }
        }
      }
    }
    List<ChunkBuffer> toLog = coldFirst(evictable, now, requested || !quiet.isEmpty() || uploadsInFlight() > 0);
    if (!toLog.isEmpty() || !aged.isEmpty()) {
      relieve(toLog, aged);
    }
    if (pressure && !quiet.isEmpty()) {
      quiet.sort(Comparator.comparingLong(Candidate::lastChangeNanos));
      int n = Math.min(quiet.size(), 2 * config.uploadParallelism());
      for (int i = 0; i < n; i++) {
        ChunkBuffer b = quiet.get(i).buffer();
        synchronized (b) {
          b.queued = true;
        }
        due.add(b);
      }
    }
    return due;
  }

  /**
   * Logs what {@code evictable} and {@code aged} changed since their last segment, in one segment for all of them
   * (more when large), then evicts {@code evictable}, on a virtual thread; nothing when one runs already (the next
   * tick looks again).
   */
  private void relieve(List<ChunkBuffer> evictable, List<ChunkBuffer> aged) {
    if (!relieving.compareAndSet(false, true)) {
      return;
    }
    List<ChunkBuffer> all = new ArrayList<>(evictable);
    all.addAll(aged);
    Thread.ofVirtual().name("relieve-" + volumeId).start(() -> {
      try {
        writeLog.log(all, false);
      } catch (IOException e) {
        log.debug("volume {}: logging dirty chunks failed: {}", volumeId, e.getMessage());
      } finally {
        for (ChunkBuffer b : evictable) {
          if (dirty.evict(b)) {
            counters.evicted();
          }
        }
        relieving.set(false);
        wake();
      }
    });
  }

  private void startDeletes(List<ChunkBuffer> batch, List<Long> versions, List<Long> seqs) throws InterruptedException {
    uploads.acquire();
    Thread.ofVirtual().name("delete-" + volumeId).start(() -> {
      try {
        if (uploader.delete(batch, versions, seqs)) {
          batch.forEach(this::requeueIfWaited);
        }
      } finally {
        uploads.release();
      }
    });
  }

  /** A FLUSH waits for a newer version than the one just stored: upload again without waiting for a tick. */
  private void requeueIfWaited(ChunkBuffer b) {
    boolean again;
    synchronized (b) {
      again = b.dirty && b.urgent && b.durableVersion < b.version;
    }
    if (again) {
      requestUpload(b, true, true);
    }
  }

  /** Stops the dispatcher and waits for the uploads in flight (so the store handle may close after). */
  @Override
  public void close() {
    closed = true;
    limiter.removePressureListener(pressureListener);
    wake.release();
    Thread t = dispatcher;
    if (t != null) {
      try {
        t.join(TimeUnit.SECONDS.toMillis(10));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try {
      uploads.acquire(config.uploadParallelism());
      uploads.release(config.uploadParallelism());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
