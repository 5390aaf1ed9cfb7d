package io.bucketdisk.engine.cache;

import io.bucketdisk.store.ChunkStore;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Folds one volume's logged extents into its chunk objects, so that the log stays short and its segments can be
 * deleted: the chunks that left memory through the log (see {@link UploadScheduler}) are stored again only here.
 *
 * <p><b>When.</b> Once the stored log reaches {@link #limit}: twice the bytes of the chunks the {@link LogIndex}
 * names, at least {@link CacheConfig#minLogChunks} chunks' worth (default 64: 256 MiB) and at most
 * {@link #MAX_LOG_FACTOR} times that. Folding every named chunk then costs at most half a byte of chunk PUT per byte
 * of log: random writes cost about 1.5 bytes stored per byte written, log included, for any working set of up to
 * half the cap. Also once the log holds {@link #MAX_SEGMENTS} segments, which bounds what the next open reads: a hard
 * bound that a writer FLUSHing after every small write no longer reaches, since the {@link LogMerger} merges runs of
 * small segments into one (copying their bytes, folding nothing) from {@link LogMerger#MERGE_AT} segments on.
 * And once the log holds half of {@link #limit} while the volume is quiet: no segment appended and no request served
 * for {@link #IDLE_NANOS}. The fold a writer's log will cost anyway is done then, not when the next writer's log
 * crosses the limit (seen: a 30 s 4 KiB write + FLUSH job paid 217 bytes PUT per byte written, and 45 ms FLUSH p99,
 * for the fold of the 5-minute random-write job's log before it). Such a fold <b>gives way</b>: at the first request
 * after it started, its workers take no further chunk, the chunks folded so far stay folded, and the rest waits for
 * the next quiet second (or the limit). Reads count: a 30 s warm random read that started beside an idle fold ran
 * with the whole fold under it (2.5 GB fetched, 1 GB stored). A volume that is never quiet folds at its limit only,
 * at full parallelism.
 * A log that an open adopts at or over its limit waits for quiet too ({@link #adopted}).
 * Snapshots fold everything ({@link #compactAll}); a close does not (the next open adopts the log).
 *
 * <p><b>How.</b> With uploads held off ({@link ChunkUploader#whileHeld}: no other writer of a chunk object), each
 * named chunk is read through {@link StoredChunks} (its object with the extents over it), stored as one PUT (or
 * deleted when it reads as zeros), and reported folded at the highest version its entries held before the read
 * ({@link WriteLog#folded}). What was logged after that stays in the index; the object may hold it already, which is
 * harmless: it is logged state, so a replay or a later read gives the same bytes. At most {@code uploadParallelism}
 * chunks are in flight, each in one of the cache's scratch chunks, taken before uploads are held off. The chunks go
 * oldest first ({@link WriteLog#oldestFirst}: by the oldest segment each still holds), so the log's dead prefix grows
 * as the fold goes and the scheduler's trims delete it then, not at the end: a fold that gave way has freed the oldest
 * segments whose chunks it folded.
 *
 * <p>Thread safe; one compaction runs at a time.
 */
final class LogCompactor {
  private static final Logger log = LoggerFactory.getLogger(LogCompactor.class);
  /** The largest log before a compaction starts whatever it costs, in multiples of the smallest. */
  static final int MAX_LOG_FACTOR = 16;
  /**
   * The most segments the stored log may hold before a compaction starts whatever their bytes: the next open reads
   * every segment's directory (a 5-minute sync-write job left 16,453 segments, whose adoption took 17 s per open on
   * s3proxy, past the NBD client's handshake timeout).
   */
  static final int MAX_SEGMENTS = 2048;
  /** How long without an appended segment or a request makes a log of half the {@link #limit} worth folding. */
  static final long IDLE_NANOS = 1_000_000_000L;

  private final ChunkStore store;
  private final StoredChunks stored;
  private final LogIndex index;
  private final WriteLog writeLog;
  private final ChunkUploader uploader;
  private final ChunkCache shared;
  private final CacheCounters counters;
  private final RequestClock requests;
  private final int chunkSize;
  private final AtomicBoolean running = new AtomicBoolean();
  /** This open adopted a log already at its limit: it folds once idle, or at twice the limit ({@link #adopted}). */
  private volatile boolean adoptedOverLimit;

  LogCompactor(ChunkStore store, StoredChunks stored, LogIndex index, WriteLog writeLog, ChunkUploader uploader,
      ChunkCache shared, CacheCounters counters, RequestClock requests) {
    this.store = store;
    this.stored = stored;
    this.index = index;
    this.writeLog = writeLog;
    this.uploader = uploader;
    this.shared = shared;
    this.counters = counters;
    this.requests = requests;
    this.chunkSize = store.chunkSize();
  }

  /** The stored log size at which a compaction starts. */
  long limit() {
    long min = shared.config().minLogChunks();
    return Math.clamp(2L * index.chunkCount(), min, MAX_LOG_FACTOR * min) * chunkSize;
  }

  /**
   * Whether the log reached {@link #limit} in bytes (twice that while an adopted log over the limit waits for quiet)
   * or {@link #MAX_SEGMENTS} in segments.
   */
  boolean due() {
    return writeLog.storedBytes() >= (adoptedOverLimit ? 2 * limit() : limit())
        || writeLog.storedSegments() >= MAX_SEGMENTS;
  }

  /**
   * The open adopted its log: one at or over the limit is folded once the volume is quiet ({@link #dueWhileIdle}), not
   * at once under the first writer. A close aborts a fold in progress, and a writer that keeps the log near its limit
   * (a fold every 20-25 s at 18k random-write IOPS) usually leaves it over: the next client's 30 s write + FLUSH job
   * then paid the whole fold (4.3 GB fetched, 2.1 GB stored, FLUSH p99 12.6 ms against 6.8). Until that fold, the
   * byte limit is twice the usual one, so a writer that never pauses still bounds the log.
   */
  void adopted() {
    adoptedOverLimit = writeLog.storedBytes() >= limit();
  }

  /** Whether a compaction runs now. */
  boolean running() {
    return running.get();
  }

  /**
   * Whether the log holds half of {@link #limit} and for {@link #IDLE_NANOS} no segment was appended and no request
   * served.
   */
  boolean dueWhileIdle() {
    return writeLog.idleNanos() >= IDLE_NANOS && requests.quietNanos() >= IDLE_NANOS
        && writeLog.storedBytes() * 2 >= limit();
  }

  /**
   * Starts a compaction on a virtual thread when the log is {@link #due}, or {@link #dueWhileIdle} (that one gives way
   * to the next request), and none runs.
   */
  void compactIfDue() {
    boolean idle = !due();
    if (idle && !dueWhileIdle() || index.chunkCount() == 0 || !running.compareAndSet(false, true)) {
      return;
    }
    log.info("volume {}: compacting the write log{} ({} bytes in {} segments stored, limit {} bytes or {} segments) "
        + "into {} chunks", store.volumeId(), idle ? " while idle" : "", writeLog.storedBytes(),
        writeLog.storedSegments(), limit(), MAX_SEGMENTS, index.chunkCount());
    Thread.ofVirtual().name("compact-" + store.volumeId()).start(() -> {
      try {
        List<Long> chunks = writeLog.oldestFirst(index.chunks());
        int folded = fold(chunks, idle ? requests.lastNanos() : null);
        if (folded < chunks.size()) {
          log.info("volume {}: compacting while idle gave way to requests after {} of {} chunks", store.volumeId(),
              folded, chunks.size());
        } else {
          adoptedOverLimit = false;
        }
      } catch (IOException e) {
        log.warn("volume {}: compacting the write log failed (will retry): {}", store.volumeId(), e.getMessage());
      } finally {
        running.set(false);
      }
    });
  }

  /** Folds every chunk the index names; returns when they are stored. */
  void compactAll() throws IOException {
    if (index.chunkCount() > 0) {
      fold(writeLog.oldestFirst(index.chunks()), null);
    }
    adoptedOverLimit = false;
  }

  /**
   * Takes its scratch chunks before it holds uploads off (an upload waiting for the lock may hold one: taking them
   * after would wait for it forever), at least one and at most {@code uploadParallelism}, then folds {@code chunks}
   * with one worker per scratch chunk. With {@code quietSince} (a {@link RequestClock#lastNanos} the fold started at),
   * the workers take no further chunk once a request changed it. Returns the chunks taken (all of them unless it
   * gave way).
   */
  private int fold(List<Long> chunks, @Nullable Long quietSince) throws IOException {
    ScratchChunks pool = shared.scratch(chunkSize);
    List<byte[]> buffers = new ArrayList<>();
    try {
      buffers.add(pool.take());
      while (buffers.size() < Math.min(chunks.size(), shared.config().uploadParallelism())) {
        byte[] b = pool.tryTake();
        if (b == null) {
          break;
        }
        buffers.add(b);
      }
      ConcurrentLinkedQueue<Long> todo = new ConcurrentLinkedQueue<>(chunks);
      AtomicInteger taken = new AtomicInteger();
      List<IOException> failures = new ArrayList<>();
      uploader.whileHeld(() -> {
        List<Thread> workers = new ArrayList<>(buffers.size());
        for (byte[] scratch : buffers) {
          workers.add(Thread.ofVirtual().name("compact-" + store.volumeId()).start(() -> {
            Long i;
            while ((quietSince == null || requests.lastNanos() == quietSince) && (i = todo.poll()) != null) {
              taken.incrementAndGet();
              try {
                foldChunk(i, scratch);
              } catch (IOException | RuntimeException e) {
                synchronized (failures) {
                  failures.add(e instanceof IOException io ? io : new IOException(e));
                }
              }
            }
          }));
        }
        try {
          for (Thread t : workers) {
            t.join();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("interrupted compacting the write log");
        }
      });
      if (!failures.isEmpty()) {
        IOException first = failures.getFirst();
        failures.stream().skip(1).forEach(first::addSuppressed);
        throw first;
      }
      return taken.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted compacting the write log");
    } finally {
      buffers.forEach(pool::give);
    }
  }

  private void foldChunk(long i, byte[] scratch) throws IOException {
    long version = index.version(i);
    if (version < 0) {
      return;
    }
    boolean found = stored.read(i, ByteBuffer.wrap(scratch, 0, chunkSize));
    try {
      uploader.storeCopy(i, scratch, !found || Zeros.isZero(scratch, 0, chunkSize));
    } catch (IOException | RuntimeException e) {
      counters.failed();
      throw e;
    }
    counters.compacted();
    uploader.compacted(i, version);
    writeLog.folded(i, version);
  }
}
