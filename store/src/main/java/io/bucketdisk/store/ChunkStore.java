package io.bucketdisk.store;

import io.bucketdisk.store.log.SegmentDirectory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One open volume, as fixed-size chunks: the gateway cache's only view of the store.
 *
 * <p><b>Contract.</b> Thread safe; calls for different chunks run in parallel, and the caller never issues two
 * concurrent writes or deletes for the same chunk. Chunk {@code i} covers bytes {@code [i * chunkSize(),
 * (i + 1) * chunkSize())} of the volume; bytes past {@link #size()} read as zeros. Buffers belong to the caller.
 *
 * <p><b>Durability.</b> {@link #write} and {@link #delete} return only after the store acknowledged them (for
 * S3: the PUT or DeleteObjects response). A returned write is visible to every later {@link #read}, also from a
 * new process that opens the volume afterwards.
 *
 * <p><b>Fencing.</b> A writable handle holds the volume's lease; if the lease is lost (expired, taken over),
 * {@link #write}, {@link #delete} and {@link #snapshot} throw {@link StoreException} and never succeed again.
 *
 * <p><b>Errors.</b> {@link StoreException} for store failures after retries; transient errors are retried
 * inside with backoff and jitter before anything is thrown.
 */
public interface ChunkStore extends AutoCloseable {

  /**
   * The checksum granule: every stored chunk carries a CRC32C per this many bytes (the whole chunk when smaller), so
   * a {@link #readRange} aligned to it fetches and checks nothing beyond what it asks for.
   */
  int GRANULE = 64 << 10;

  /** The volume id (also the NBD export name). */
  String volumeId();

  /** Current size in bytes; grows after a resize once {@link #refresh()} saw it. */
  long size();

  /** Chunk size in bytes, a power of two, fixed for the life of the volume. */
  int chunkSize();

  /** True when writes are refused (a snapshot, or a handle opened read-only). */
  boolean readOnly();

  /**
   * Reads chunk {@code index} into {@code dst} ({@code chunkSize()} bytes remaining). Returns false, leaving
   * {@code dst} untouched, when the chunk is not stored at all (it reads as zeros) — without a store request when
   * the chunk index already says so.
   */
  boolean read(long index, ByteBuffer dst) throws IOException;

  /**
   * Reads {@code dst.remaining()} bytes starting {@code offsetInChunk} bytes into chunk {@code index}; false when
   * the chunk is not stored (the range reads as zeros).
   */
  boolean readRange(long index, int offsetInChunk, ByteBuffer dst) throws IOException;

  /** Stores the whole chunk {@code index} ({@code chunkSize()} bytes remaining in {@code data}). */
  void write(long index, ByteBuffer data) throws IOException;

  /** Makes the given chunks read as zeros, deleting their objects in batches. */
  void delete(long[] indexes, int count) throws IOException;

  /** True when chunk {@code index} has stored data visible to this volume (own or inherited from a parent). */
  boolean isStored(long index);

  /** How many layers down chunk {@code index} is found: 0 absent, 1 this volume, 2 its parent, and so on. */
  int depth(long index);

  /**
   * Records snapshot {@code snapshotId} of the current contents and moves later writes to a new epoch. The caller
   * must have stored every dirty chunk first. O(1): no chunk is copied.
   */
  void snapshot(String snapshotId) throws IOException;

  /**
   * The number the next log segment of this handle gets: one past the highest the volume's log held when this
   * writable handle opened (whether the open folded the log or adopted it), 1 for an empty log.
   */
  long nextLogSeq();

  /**
   * The log this writable handle took over at open ({@link VolumeCatalog#openAdoptingLog}): the segments a replay
   * would apply ({@code LogRef#replayOrder}), in that order, each with its directory; the skipped ones are deleted.
   * Their extents are newer than the chunk objects, in that order; the holder reads their bytes with
   * {@link #readLog} and trims them with {@link #trimLog} once it folded them. Empty when the open folded the log
   * ({@link VolumeCatalog#open}) and for a read-only handle. Handed over once: the handle keeps no reference, and
   * a second call returns an empty list (a 1.7 GB log of 4 KiB writes has 480,000 directory entries, 19 MB of heap
   * that the holder's own index makes redundant).
   */
  List<SegmentDirectory> takeAdoptedLog();

  /**
   * Stores a finished segment ({@code LogSegment.Builder#finish}) as number {@code seq} under this writer's current
   * epoch, stamping both into it. Returns only after the store acknowledged it; fenced like {@link #write}. A number
   * whose PUT failed is used again for the next attempt (replay stops at a missing number).
   */
  void appendLog(long seq, ByteBuffer segment) throws IOException;

  /**
   * Reads {@code dst.remaining()} bytes at {@code offset} of segment {@code seq} that this handle stored
   * ({@link #appendLog}) or adopted ({@link #takeAdoptedLog}): how the cache reads logged extents of chunks it no longer
   * holds. Throws
   * {@link StoreException} when the segment is gone (trimmed meanwhile) or shorter than asked.
   */
  void readLog(long seq, int offset, ByteBuffer dst) throws IOException;

  /**
   * Like {@link #readLog(long, int, ByteBuffer)}, of the segment covering {@code [first, last]}: a merged one
   * ({@link #mergeLog}) when {@code first < last}. Throws {@code NOT_FOUND} once it is trimmed, or replaced by a merge
   * and dropped: the caller looks its extents up again.
   */
  default void readLog(long first, long last, int offset, ByteBuffer dst) throws IOException {
    if (first != last) {
      throw new StoreException(StoreException.Kind.NOT_FOUND, "no merged log segment " + first + ".." + last);
    }
    readLog(last, offset, dst);
  }

  /**
   * Stores {@code segment} (a finished {@code LogSegment.Builder}) as the merge of this handle's segments numbered
   * {@code first} to {@code last}, a run of them in the log, each wholly inside the range: it must hold their
   * extents in their order, less only bytes a later segment (inside the range or after it) writes again, so that
   * applying it in their place gives the same bytes. The key names the range; the epoch is the highest of the
   * originals, so the merged segment takes exactly their place in replay order. The originals stay readable until
   * {@link #dropMerged}; a crash in between leaves both, and an open takes the merged one and deletes the rest.
   * Fenced like {@link #appendLog}: a fenced handle stores nothing, and a PUT that outlived the lease is not
   * acknowledged.
   */
  default void mergeLog(long first, long last, ByteBuffer segment) throws IOException {
    throw new StoreException(StoreException.Kind.PERMANENT, "volume " + volumeId() + ": log merging unsupported");
  }

  /**
   * Deletes the segments the merged segment {@code [first, last]} ({@link #mergeLog}) replaced; reads of them throw
   * {@code NOT_FOUND} from now on. Fenced like {@link #trimLog}.
   */
  default void dropMerged(long first, long last) throws IOException {
    throw new StoreException(StoreException.Kind.PERMANENT, "volume " + volumeId() + ": log merging unsupported");
  }

  /**
   * Deletes every log segment numbered at most {@code throughSeq} (a merged one when its whole range is), of any
   * epoch (adopted ones too): their extents are in the chunk objects. Fenced like {@link #write}.
   */
  void trimLog(long throughSeq) throws IOException;

  /**
   * How long this handle's lease stays valid without another renewal, in seconds: 0 once it ran out or the handle is
   * fenced (writes are refused), NaN for a handle that holds no lease (read-only). For metrics: an outage shows as
   * this falling towards 0.
   */
  default double leaseValidSeconds() {
    return Double.NaN;
  }

  /**
   * The writer tenure this handle holds, or null when it holds no lease (read-only). When a later writable handle's
   * tenure {@link Tenure#follows} an earlier one's, no other writer held the volume between them: the later handle
   * opened exactly what the earlier one left in the store when it closed.
   */
  default @Nullable Tenure tenure() {
    return null;
  }

  /**
   * A writer's hold on a volume: the volume ({@code volume} id and creation time, so a volume deleted and created
   * again under the same id is another) and the writer generation, which every new holder of the lease bumps.
   */
  record Tenure(String volume, long createdAtMillis, long generation) {
    /** Whether this tenure is the one right after {@code earlier}, on the same volume. */
    public boolean follows(Tenure earlier) {
      return volume.equals(earlier.volume) && createdAtMillis == earlier.createdAtMillis
          && generation == earlier.generation + 1;
    }
  }

  /** Re-reads the manifest (size changes made by the controller). */
  void refresh() throws IOException;

  /** Releases the lease (after the caller flushed); the handle is unusable afterwards. */
  @Override
  void close() throws IOException;
}
