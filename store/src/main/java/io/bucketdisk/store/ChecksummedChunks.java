package io.bucketdisk.store;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.object.ObjectStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chunk objects of one volume on the object store, with their checksums ({@link ChunkFrames}): a write stores the
 * framed form, a read of a framed object fetches the granules it covers in one ranged GET and checks each against its
 * CRC32C. A mismatch fails that read (PERMANENT: the request gets EIO), is logged with volume and key, and counted
 * ({@link StoreMetrics#checksumMismatch}); wrong bytes are never returned. Objects written before checksums existed
 * are read unchecked.
 *
 * <p>Thread safe. Framed buffers of whole chunks are reused (at most {@link #POOLED} kept).
 */
final class ChecksummedChunks {
  private static final Logger log = LoggerFactory.getLogger(ChecksummedChunks.class);
  static final int POOLED = 16;

  private final ObjectStore store;
  private final String volume;
  private final int chunkSize;
  private final StoreMetrics metrics;
  private final ConcurrentLinkedQueue<ByteBuffer> pool = new ConcurrentLinkedQueue<>();
  private final AtomicInteger pooled = new AtomicInteger();

  ChecksummedChunks(ObjectStore store, String volume, int chunkSize, StoreMetrics metrics) {
    this.store = store;
    this.volume = volume;
    this.chunkSize = chunkSize;
    this.metrics = metrics;
  }

  /** Whether an object of {@code size} bytes is in the checksummed layout. */
  boolean framed(long size) {
    return size == ChunkFrames.objectSize(chunkSize);
  }

  /** Stores {@code data} (a whole chunk, position kept) framed under {@code key}. */
  void put(String key, ByteBuffer data) throws IOException {
    ByteBuffer framed = take();
    try {
      ChunkFrames.frame(data, chunkSize, framed);
      framed.flip();
      store.put(key, framed);
    } finally {
      give(framed);
    }
  }

  /**
   * Reads {@code dst.remaining()} bytes at {@code offsetInChunk} of the framed object {@code key}, checking every
   * granule it touches; -1 when the key does not exist.
   */
  int read(String key, long index, int offsetInChunk, ByteBuffer dst) throws IOException {
    int g = ChunkFrames.granule(chunkSize);
    int length = dst.remaining();
    int first = offsetInChunk / g;
    int last = (offsetInChunk + length - 1) / g;
    int count = last - first + 1;
    boolean whole = count == chunkSize / g;
    ByteBuffer framed = whole ? take() : ByteBuffer.allocate(count * (g + ChunkFrames.CRC_BYTES));
    try {
      framed.limit(count * (g + ChunkFrames.CRC_BYTES));
      int n = store.read(key, ChunkFrames.offsetOf(first, chunkSize), framed);
      if (n < 0) {
        return -1;
      }
      if (n != framed.limit()) {
        throw mismatch(key, index, first + n / (g + ChunkFrames.CRC_BYTES), "the object ends early (" + n
            + " of " + framed.limit() + " bytes)");
      }
      framed.flip();
      int bad = ChunkFrames.unframe(framed, first, count, chunkSize, offsetInChunk - first * g, length, dst);
      if (bad >= 0) {
        throw mismatch(key, index, bad, "CRC32C mismatch");
      }
      return length;
    } finally {
      if (whole) {
        give(framed);
      }
    }
  }

  private StoreException mismatch(String key, long index, int granule, String what) {
    int g = ChunkFrames.granule(chunkSize);
    metrics.checksumMismatch();
    String message = "volume " + volume + ": chunk " + index + " (" + key + ") is damaged in the store: " + what
        + " in bytes " + (long) granule * g + ".." + ((long) (granule + 1) * g - 1) + " of the chunk; the read "
        + "fails rather than return wrong data (restore the object, or overwrite that range)";
    log.error(message);
    return new StoreException(Kind.PERMANENT, message);
  }

  private ByteBuffer take() {
    ByteBuffer b = pool.poll();
    if (b == null) {
      return ByteBuffer.allocate((int) ChunkFrames.objectSize(chunkSize));
    }
    pooled.decrementAndGet();
    return b.clear();
  }

  private void give(ByteBuffer b) {
    if (pooled.incrementAndGet() <= POOLED) {
      pool.offer(b);
    } else {
      pooled.decrementAndGet();
    }
  }
}
