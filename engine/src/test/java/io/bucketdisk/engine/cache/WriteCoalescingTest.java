package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Small writes to a hot chunk: how many uploads they cost, and that the loss window still holds. The store is checked
 * directly (what it holds at each moment), not the cache's own bookkeeping.
 */
@Timeout(60)
class WriteCoalescingTest {
  static final int CHUNK = 64 * 1024;
  static final Duration MAX_AGE = Duration.ofMillis(300);
  static final long UPLOAD_MILLIS = 50;

  MemoryChunkStore store;
  VolumeCache volume;

  @AfterEach
  void close() throws Exception {
    if (volume != null) {
      volume.close();
    }
  }

  @Test
  void aChunkRewrittenDuringItsUploadWaitsItsOwnLossWindowInsteadOfUploadingAgainAtOnce() throws Exception {
    store = new MemoryChunkStore("vol", 8L * CHUNK, CHUNK, false);
    store.writeDelayMillis = UPLOAD_MILLIS;
    volume = new VolumeCache(store, new ChunkCache(new CacheConfig(16L * CHUNK, 6L * CHUNK, CHUNK, 2, 2, 4, MAX_AGE,
        Duration.ofSeconds(20), Duration.ofSeconds(20))));
    long runNanos = Duration.ofSeconds(3).toNanos();
    long[] ackNanos = new long[200_000];
    AtomicInteger acked = new AtomicInteger();
    // write i at offset 0 of chunk 0, i = 1, 2, ...: the store's copy tells which writes it holds
    Thread writer = Thread.ofVirtual().start(() -> {
      ByteBuffer buf = ByteBuffer.allocate(4096);
      long end = System.nanoTime() + runNanos;
      try {
        for (int i = 1; i < ackNanos.length && System.nanoTime() < end; i++) {
          buf.clear();
          buf.putLong(0, i);
          volume.write(0, buf, false);
          ackNanos[i] = System.nanoTime();
          acked.set(i);
          Thread.sleep(1);
        }
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    });
    // the bound: age limit + a dispatcher tick + the upload itself + scheduling slack on a shared machine
    long bound = MAX_AGE.toNanos() + Duration.ofMillis(100 + UPLOAD_MILLIS + 1000).toNanos();
    long worstLagNanos = 0;
    while (writer.isAlive()) {
      long now = System.nanoTime();
      int n = acked.get();
      long durable = ByteBuffer.wrap(store.imageAfterReplay()).getLong(0); // chunk object + log
      if (durable < n) {
        // the oldest acknowledged write the store does not hold yet
        worstLagNanos = Math.max(worstLagNanos, now - ackNanos[(int) durable + 1]);
      }
      Thread.sleep(10);
    }
    writer.join();
    assertThat(worstLagNanos).as("oldest acknowledged write missing from the store (ns)").isLessThan(bound);
    assertThat(store.writes.get() + store.logAppends.get())
        .as("PUTs (chunks and segments) for a chunk written every millisecond for 3 s, age bound %s", MAX_AGE)
        .isBetween(3L, 3000 / MAX_AGE.toMillis() + 3);
    assertThat(store.concurrentSameChunk.get()).as("two uploads of one chunk at once").isZero();
    volume.fold();
    assertThat(ByteBuffer.wrap(store.chunks.get(0L)).getLong(0)).isEqualTo(acked.get());
    assertThat(volume.invariantViolations()).isEmpty();
    assertThat(Arrays.copyOfRange(store.chunks.get(0L), 8, CHUNK)).containsOnly(0);
  }

  @Test
  void dirtySpacePressureDoesNotUploadChunksThatAreStillChanging() throws Exception {
    store = new MemoryChunkStore("vol", 8L * CHUNK, CHUNK, false);
    store.writeDelayMillis = UPLOAD_MILLIS;
    // dirty cap 6 chunks: 4 hot chunks hold it more than half full for the whole run, and no writer ever waits
    ChunkCache cache = new ChunkCache(new CacheConfig(16L * CHUNK, 6L * CHUNK, CHUNK, 2, 2, 4, MAX_AGE,
        Duration.ofSeconds(20), Duration.ofSeconds(20)));
    volume = new VolumeCache(store, cache);
    java.util.Random random = new java.util.Random(7);
    ByteBuffer buf = ByteBuffer.allocate(4096);
    long end = System.nanoTime() + Duration.ofSeconds(3).toNanos();
    int writes = 0;
    while (System.nanoTime() < end) {
      buf.clear();
      buf.putLong(0, ++writes);
      volume.write((long) random.nextInt(4) * CHUNK + 4096L * random.nextInt(CHUNK / 4096), buf, false);
      Thread.sleep(0, 200_000);
    }
    assertThat(cache.limiter().waits()).as("writers never waited").isZero();
    // the age bound alone: about one PUT per chunk per 300 ms (+ the upload); pressure used to add a PUT of each
    // chunk per tick
    assertThat(store.writes.get()).as("PUTs for 4 chunks rewritten for 3 s, age bound %s", MAX_AGE)
        .isLessThanOrEqualTo(4 * (3000 / MAX_AGE.toMillis() + 3));
    assertThat(store.concurrentSameChunk.get()).isZero();
    volume.fold();
    assertThat(volume.dirtyChunks()).isZero();
  }

  @Test
  void aSequentialWriterOverMoreThanTheDirtyCapStoresEachChunkOnceAndLogsAtMostTheLast() throws Exception {
    int chunks = 64;
    store = new MemoryChunkStore("vol", (long) chunks * CHUNK, CHUNK, false);
    store.writeDelayMillis = UPLOAD_MILLIS; // a slow store: writers wait for dirty space, chunks upload under pressure
    ChunkCache cache = new ChunkCache(new CacheConfig(16L * CHUNK, 6L * CHUNK, CHUNK, 2, 2, 4, MAX_AGE,
        Duration.ofSeconds(20), Duration.ofSeconds(20)));
    volume = new VolumeCache(store, cache);
    byte[] model = new byte[chunks * CHUNK];
    ByteBuffer buf = ByteBuffer.allocate(8192);
    for (int at = 0; at < model.length; at += buf.capacity()) {
      buf.clear();
      buf.putLong(0, at);
      volume.write(at, buf, false);
      ByteBuffer.wrap(model).putLong(at, at);
    }
    volume.flush();
    assertThat(cache.limiter().waits()).as("writers waited for dirty space").isPositive();
    assertThat(store.logAppends.get()).as("log segments for whole chunks written in order").isLessThanOrEqualTo(1);
    // the final FLUSH may log the last chunk instead of waiting for its upload to start: once, not both
    assertThat(store.writes.get()).as("chunk PUTs").isBetween((long) chunks - 1, (long) chunks);
    assertThat(store.writes.get() + store.logAppends.get()).as("chunk PUTs + log segments").isEqualTo(chunks);
    assertThat(store.imageAfterReplay()).isEqualTo(model);
  }
}
