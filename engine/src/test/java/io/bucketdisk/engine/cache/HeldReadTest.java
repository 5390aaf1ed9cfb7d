package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code readIfHeld}, the reads the NBD server answers on its reading thread: served only from memory (a dirty
 * buffer that covers the range, a clean chunk, or a chunk with nothing stored), never from the store; anything else
 * answers false with the buffer as it was, and {@code read} then serves it.
 */
@Timeout(60)
class HeldReadTest {
  static final int CHUNK = 64 * 1024;
  static final long SIZE = 16L * CHUNK;

  MemoryChunkStore store = new MemoryChunkStore("vol", SIZE, CHUNK, false);
  VolumeCache volume;

  void open() {
    volume = new VolumeCache(store, new ChunkCache(new CacheConfig(48L * CHUNK, 32L * CHUNK, CHUNK, 2, 2, 4,
        Duration.ofSeconds(60), Duration.ofSeconds(20), Duration.ofSeconds(20), 1000)));
  }

  @AfterEach
  void close() throws Exception {
    if (volume != null && !volume.isClosed()) {
      volume.close();
    }
  }

  /** A buffer whose first {@code lead} bytes are not the read's, so that the position is checked too. */
  static ByteBuffer target(int lead, int n) {
    return ByteBuffer.allocate(lead + n).position(lead);
  }

  @Test
  void aChunkWithNothingStoredReadsAsZerosFromMemory() throws Exception {
    open();
    ByteBuffer dst = target(7, 8192);
    dst.put(7, (byte) 1);
    assertThat(volume.readIfHeld(3L * CHUNK + 100, dst)).isTrue();
    assertThat(dst.position()).isEqualTo(7 + 8192);
    assertThat(dst.array()).startsWith(new byte[7]).containsOnly(0);
    assertThat(store.reads.get() + store.rangeReads.get()).isZero();
  }

  @Test
  void aRangeADirtyBufferCoversIsHeldAndOneItDoesNotIsNot() throws Exception {
    open();
    byte[] data = VolumeCacheTest.pattern(4096, 3);
    volume.write(5L * CHUNK + 4096, ByteBuffer.wrap(data), false);
    ByteBuffer dst = target(0, 4096);
    assertThat(volume.readIfHeld(5L * CHUNK + 4096, dst)).isTrue();
    assertThat(dst.array()).isEqualTo(data);

    // Part of the read lies outside what was written: the stored chunk (nothing) must be looked at, so not held.
    store.chunks.put(5L, VolumeCacheTest.pattern(CHUNK, 9));
    ByteBuffer wider = target(5, 8192);
    assertThat(volume.readIfHeld(5L * CHUNK, wider)).isFalse();
    assertThat(wider.position()).as("untouched").isEqualTo(5);
    assertThat(store.reads.get() + store.rangeReads.get()).isZero();
  }

  @Test
  void aStoredChunkIsHeldOnlyOnceLoaded() throws Exception {
    byte[] chunk = VolumeCacheTest.pattern(CHUNK, 4);
    store.chunks.put(2L, chunk);
    open();
    ByteBuffer dst = target(3, 2 * CHUNK); // chunks 2 and 3: 3 has nothing stored, 2 is not loaded
    assertThat(volume.readIfHeld(2L * CHUNK, dst)).isFalse();
    assertThat(dst.position()).isEqualTo(3);
    assertThat(store.reads.get() + store.rangeReads.get()).as("no store request").isZero();

    volume.read(2L * CHUNK, ByteBuffer.allocate(CHUNK)); // loads the chunk
    long requests = store.reads.get() + store.rangeReads.get();
    assertThat(volume.readIfHeld(2L * CHUNK, dst)).isTrue();
    assertThat(dst.position()).isEqualTo(3 + 2 * CHUNK);
    assertThat(java.util.Arrays.copyOfRange(dst.array(), 3, 3 + CHUNK)).isEqualTo(chunk);
    assertThat(java.util.Arrays.copyOfRange(dst.array(), 3 + CHUNK, 3 + 2 * CHUNK)).containsOnly(0);
    assertThat(store.reads.get() + store.rangeReads.get()).isEqualTo(requests);
  }
}
