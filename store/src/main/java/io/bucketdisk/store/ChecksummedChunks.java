package io.bucketdisk.store;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.object.ObjectStore;
import io.bucketdisk.store.object.WriteCondition;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chunk objects of one volume on the object store, with their checksums ({@link ChunkFrames}): a write stores the
 * framed form, a read of a framed object fetches the granules it covers in one ranged GET and checks each against its
 * CRC32C. A mismatch fails that read (PERMANENT: the request gets EIO), is logged with volume and key, and counted
 * ({@link StoreMetrics#checksumMismatch}); wrong bytes are never returned. Objects written before checksums existed
 * are read unchecked.
 *
 * <p>No framed copy of a chunk is made: a write gathers the chunk's granules and their checksums into one PUT, and a
 * read scatters the object's granules straight into the caller's buffer, their checksums into a small one, and
 * checks them there. Only a granule the read covers in part goes through a granule-sized temporary. A read that fails
 * its check may have written into {@code dst}'s range (never outside it).
 *
 * <p>Thread safe; stateless beyond its fields.
 */
final class ChecksummedChunks {
  private static final Logger log = LoggerFactory.getLogger(ChecksummedChunks.class);

  private final ObjectStore store;
  private final String volume;
  private final int chunkSize;
  private final StoreMetrics metrics;

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
    store.put(key, ChunkFrames.frame(data, chunkSize), WriteCondition.none());
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
    ChunkFrames.Scatter scatter = new ChunkFrames.Scatter(first, last, g, offsetInChunk, dst);
    int n = store.read(key, ChunkFrames.offsetOf(first, chunkSize), scatter.parts());
    if (n < 0) {
      return -1;
    }
    if (n != scatter.framedBytes()) {
      throw mismatch(key, index, first + n / (g + ChunkFrames.CRC_BYTES), "the object ends early (" + n
          + " of " + scatter.framedBytes() + " bytes)");
    }
    int bad = scatter.check();
    if (bad >= 0) {
      throw mismatch(key, index, bad, "CRC32C mismatch");
    }
    scatter.finish();
    return length;
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
}
