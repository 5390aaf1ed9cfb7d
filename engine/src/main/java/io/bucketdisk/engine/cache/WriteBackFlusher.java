package io.bucketdisk.engine.cache;

import io.bucketdisk.engine.EngineException;
import io.bucketdisk.store.StoreException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Uploads one volume's dirty chunks in the background and lets FLUSH and FUA wait for them.
 *
 * <p><b>Design.</b> A dispatcher virtual thread takes upload requests from a queue and, every tick, scans the dirty
 * map for chunks that are due: older than {@link CacheConfig#maxDirtyAge()} (the loss window), waiting for a
 * retry after a failure, or — while the {@link DirtyLimiter} is more than half full — the oldest ones. Each data
 * chunk uploads on its own virtual thread holding one scratch buffer of the gateway's {@link ScratchChunks}, which
 * bounds the parallelism; zeroed chunks are collected and deleted in one batched {@code ChunkStore.delete}.
 *
 * <p><b>An upload</b> fills the chunk's missing ranges from the store ({@link VolumeCache#merge}), copies the
 * buffer and its version under the buffer monitor, stores the copy (a PUT, or a DELETE when the copy is all
 * zeros: an all-zero chunk is never stored) and reports the version to {@link VolumeCache#uploaded}. Writes may
 * continue meanwhile; they bump the version, so the chunk stays dirty and uploads again later. At most one upload
 * per chunk runs at a time ({@code uploading}), as {@code ChunkStore} requires.
 *
 * <p><b>Waiting</b> ({@link #awaitDurable}): a waiter holds (buffer, version, attempt number at registration)
 * and returns when the durable version reaches its version; it fails with EIO when an upload attempt started after
 * its registration failed (so every FLUSH tries the upload at least once and no FLUSH succeeds while a covered
 * chunk cannot be stored), or after {@link CacheConfig#flushTimeout()}.
 */
final class WriteBackFlusher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WriteBackFlusher.class);
  private static final long TICK_MILLIS = 100;
  private static final int DELETE_BATCH = 1000;

  /** What a FLUSH or FUA waits for: {@code buffer} durable at {@code version} or later. */
  record Target(ChunkBuffer buffer, long version, long attemptSeq) {}

  /** A chunk that may upload early to relieve dirty-space pressure, with its last change time when seen. */
  private record Candidate(ChunkBuffer buffer, long lastChangeNanos) {}

  private final VolumeCache volume;
  private final ConcurrentLinkedQueue<ChunkBuffer> queue = new ConcurrentLinkedQueue<>();
  private final Semaphore wake = new Semaphore(0);
  private final Runnable pressureListener = this::wake;
  private final Semaphore uploads;
  private volatile boolean closed;
  private Thread dispatcher;

  WriteBackFlusher(VolumeCache volume) {
    this.volume = volume;
    this.uploads = new Semaphore(volume.shared.config.uploadParallelism());
  }

  void start() {
    volume.shared.limiter.addPressureListener(pressureListener);
    dispatcher = Thread.ofVirtual().name("writeback-" + volume.volumeId).start(this::run);
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

  /** Returns when every target is durable at its version; EIO when an upload for it failed or timed out. */
  void awaitDurable(List<Target> targets) throws IOException {
    if (targets.isEmpty()) {
      return;
    }
    for (Target t : targets) {
      requestUpload(t.buffer(), true, false);
    }
    wake();
    long deadline = System.nanoTime() + volume.shared.config.flushTimeout().toNanos();
    for (Target t : targets) {
      ChunkBuffer b = t.buffer();
      synchronized (b) {
        while (b.durableVersion < t.version()) {
          if (b.failedSeq > t.attemptSeq()) {
            throw new EngineException(fencedBy(b.failure) ? EngineException.Kind.FENCED : EngineException.Kind.IO,
                "volume " + volume.volumeId + " chunk " + b.index + " could not be stored: " + b.failure, b.failure);
          }
          if (volume.isClosed() && !b.dirty) {
            throw new EngineException(EngineException.Kind.IO, "volume " + volume.volumeId + " closed before chunk " + b.index
                + " was stored");
          }
          if (!b.uploading && !b.queued) {
            b.urgent = true;
            b.queued = true;
            queue.add(b);
            wake();
          }
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            throw new EngineException(EngineException.Kind.IO, "volume " + volume.volumeId + " chunk " + b.index
                + " not stored within " + volume.shared.config.flushTimeout());
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
        wake.drainPermits();
        if (closed) {
          break;
        }
        dispatchRound();
      } catch (InterruptedException e) {
        if (closed) {
          break;
        }
      } catch (RuntimeException e) {
        log.error("volume {}: write-back dispatcher error", volume.volumeId, e);
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
    long maxAge = volume.shared.config.maxDirtyAge().toNanos();
    boolean pressure = volume.shared.limiter.underPressure();
    // under pressure a chunk uploads early only once it stopped changing for a while (else it is dirty again right
    // after its upload, and the PUT freed nothing), unless writers already wait for space
    boolean starving = pressure && volume.shared.limiter.writersWaiting();
    long quietNanos = maxAge / 4;
    List<Candidate> quiet = pressure ? new ArrayList<>() : List.of();
    for (ChunkBuffer b : volume.dirty.values()) {
      synchronized (b) {
        if (!b.dirty || b.uploading || b.queued || b.durableVersion >= b.version) {
          continue;
        }
        boolean retryDue = b.failure != null && now - b.retryAfterNanos >= 0;
        if (b.failure == null && now - b.dirtySinceNanos >= maxAge || retryDue) {
          b.queued = true;
          due.add(b);
        } else if (pressure && b.failure == null && b.data != null
            && (starving || now - b.lastChangeNanos >= quietNanos)) {
          quiet.add(new Candidate(b, b.lastChangeNanos));
        }
      }
    }
    if (pressure && !quiet.isEmpty()) {
      // quietest first, for the same reason
      quiet.sort(Comparator.comparingLong(Candidate::lastChangeNanos));
      int n = Math.min(quiet.size(), 2 * volume.shared.config.uploadParallelism());
      for (int i = 0; i < n; i++) {
        ChunkBuffer b = quiet.get(i).buffer();
        synchronized (b) {
          b.queued = true;
        }
        due.add(b);
      }
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
        Thread.ofVirtual().name("upload-" + volume.volumeId + "-" + b.index).start(() -> {
          try {
            uploadOne(b, seq);
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

  private void startDeletes(List<ChunkBuffer> batch, List<Long> versions, List<Long> seqs) throws InterruptedException {
    uploads.acquire();
    Thread.ofVirtual().name("delete-" + volume.volumeId).start(() -> {
      try {
        deleteBatch(batch, versions, seqs);
      } finally {
        uploads.release();
      }
    });
  }

  private void deleteBatch(List<ChunkBuffer> batch, List<Long> versions, List<Long> seqs) {
    long[] indexes = new long[batch.size()];
    int n = 0;
    for (ChunkBuffer b : batch) {
      if (volume.store.isStored(b.index)) {
        indexes[n++] = b.index;
      }
    }
    try {
      if (n > 0) {
        volume.epochLock.readLock().lock();
        try {
          volume.store.delete(indexes, n);
        } finally {
          volume.epochLock.readLock().unlock();
        }
        volume.counters.deleteRequests.increment();
        volume.counters.deletes.add(n);
      }
      for (int i = 0; i < batch.size(); i++) {
        volume.uploaded(batch.get(i), versions.get(i), true);
        requeueIfWaited(batch.get(i));
      }
    } catch (IOException | RuntimeException e) {
      for (int i = 0; i < batch.size(); i++) {
        volume.uploadFailed(batch.get(i), seqs.get(i), e);
      }
    }
  }

  private void uploadOne(ChunkBuffer b, long seq) {
    ScratchChunks pool = volume.shared.pool(volume.chunkSize);
    try {
      volume.merge(b);
      byte[] scratch = pool.take();
      try {
        long version;
        boolean zero;
        synchronized (b) {
          version = b.version;
          b.uploadVersion = version;
          byte[] d = b.data;
          if (d == null) {
            zero = true;
          } else {
            if (!b.valid.isFull()) {
              throw new IllegalStateException("chunk " + b.index + " not fully valid after merge: " + b.valid);
            }
            System.arraycopy(d, 0, scratch, 0, volume.chunkSize);
            zero = false;
          }
        }
        if (!zero) {
          zero = Zeros.isZero(scratch, 0, volume.chunkSize);
        }
        volume.epochLock.readLock().lock();
        try {
          if (zero) {
            if (volume.store.isStored(b.index)) {
              volume.store.delete(new long[] {b.index}, 1);
              volume.counters.deleteRequests.increment();
              volume.counters.deletes.increment();
            }
          } else {
            volume.store.write(b.index, ByteBuffer.wrap(scratch, 0, volume.chunkSize));
            volume.counters.puts.increment();
            volume.counters.bytesUp.add(volume.chunkSize);
          }
        } finally {
          volume.epochLock.readLock().unlock();
        }
        volume.uploaded(b, version, zero);
      } finally {
        pool.give(scratch);
      }
      requeueIfWaited(b);
    } catch (InterruptedException e) {
      volume.uploadFailed(b, seq, new InterruptedIOException("upload interrupted"));
    } catch (IOException | RuntimeException e) {
      volume.uploadFailed(b, seq, e);
    }
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

  /** Stops the dispatcher; uploads in flight finish on their own threads. */
  @Override
  public void close() {
    closed = true;
    volume.shared.limiter.removePressureListener(pressureListener);
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
      // let uploads in flight finish before the store handle closes
      uploads.acquire(volume.shared.config.uploadParallelism());
      uploads.release(volume.shared.config.uploadParallelism());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
