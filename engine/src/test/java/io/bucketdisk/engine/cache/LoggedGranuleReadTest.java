package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.store.ChunkStore;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A small read of a chunk whose bytes are in the log fetches one checksum granule of the segment, and no chunk object
 * when the log covers the read: the log stores a long run of writes as one extent per granule.
 */
@Timeout(60)
class LoggedGranuleReadTest {
  static final int CHUNK = 1 << 20;
  static final int LOGGED = 12 * ChunkStore.GRANULE;

  final MemoryChunkStore store = new MemoryChunkStore("vol", 4L * CHUNK, CHUNK, false);
  final byte[] model = new byte[4 * CHUNK];
  VolumeCache volume;

  VolumeCache open() {
    ChunkCache cache = new ChunkCache(new CacheConfig(12L * CHUNK, 4L * CHUNK, CHUNK, 2, 2, 4,
        Duration.ofSeconds(60), Duration.ofSeconds(20), Duration.ofSeconds(20), 1000));
    volume = new VolumeCache(store, cache);
    return volume;
  }

  @AfterEach
  void close() throws Exception {
    if (volume != null && !volume.isClosed()) {
      volume.close();
    }
  }

  byte[] read(long offset, int n) throws Exception {
    ByteBuffer dst = ByteBuffer.allocate(n);
    volume.read(offset, dst);
    return dst.array();
  }

  @Test
  void aSmallReadOfALoggedRunFetchesOneGranuleAndNoObject() throws Exception {
    byte[] object = VolumeCacheTest.pattern(CHUNK, 77);
    store.chunks.put(0L, object);
    System.arraycopy(object, 0, model, 0, CHUNK);
    open();
    for (long chunk : new long[] {0, 1}) { // chunk 0 over its object, chunk 1 with none
      byte[] run = VolumeCacheTest.pattern(LOGGED, 100 + chunk);
      volume.write(chunk * CHUNK, ByteBuffer.wrap(run), false);
      System.arraycopy(run, 0, model, (int) (chunk * CHUNK), LOGGED);
    }
    volume.close(); // a partial chunk goes to the log, and the next open adopts it
    assertThat(store.chunks).as("chunk 1 is in the log only").doesNotContainKey(1L);

    open();
    long objectReads = store.reads.get() + store.rangeReads.get();
    for (long chunk : new long[] {0, 1}) {
      long before = store.logReadBytes.get();
      long at = chunk * CHUNK + 5 * ChunkStore.GRANULE + 4096;
      assertThat(read(at, 4096)).isEqualTo(Arrays.copyOfRange(model, (int) at, (int) at + 4096));
      assertThat(store.logReadBytes.get() - before).as("log bytes fetched for a 4 KiB read of chunk %d", chunk)
          .isEqualTo(ChunkStore.GRANULE);
    }
    assertThat(store.reads.get() + store.rangeReads.get()).as("object reads for bytes the log covers")
        .isEqualTo(objectReads);

    long at = LOGGED + 4096L; // past the logged run: the object's granule alone
    long before = store.logReadBytes.get();
    assertThat(read(at, 4096)).isEqualTo(Arrays.copyOfRange(model, (int) at, (int) at + 4096));
    assertThat(store.rangeReads.get()).as("the object's granule").isEqualTo(objectReads + 1);
    assertThat(store.logReadBytes.get()).isEqualTo(before);
    assertThat(read(0, 4 * CHUNK)).as("everything").isEqualTo(model);
  }
}
