package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A volume four times its RAM's clean budget over a disk tier that holds all of it: after one pass the store is
 * (almost) not read again, and every byte equals a model, also after writes to some chunks (their disk copies
 * dropped, their new bytes written there once clean again). The tier's writer runs on the test's thread after every
 * read, so nothing is dropped and the counts are exact.
 */
@Timeout(120)
class DiskTierReadTest {
  static final int CHUNK = 1 << 20;
  static final int CHUNKS = 32;
  static final long SIZE = (long) CHUNKS * CHUNK;

  @TempDir Path dir;
  final MemoryChunkStore store = new MemoryChunkStore("vol", SIZE, CHUNK, false);
  final byte[] model = new byte[(int) SIZE];
  DiskTier disk;
  ChunkCache cache;
  VolumeCache volume;

  void open() throws Exception {
    open(false, Duration.ofSeconds(60));
  }

  /** {@code background}: the tier's own writer thread (else the test writes after every read). */
  void open(boolean background, Duration maxDirtyAge) throws Exception {
    new Random(1).nextBytes(model);
    for (int i = 0; i < CHUNKS; i++) {
      store.chunks.put((long) i, Arrays.copyOfRange(model, i * CHUNK, (i + 1) * CHUNK));
    }
    disk = new DiskTier(dir.resolve(DiskTier.FILE_NAME), 2 * CHUNKS * CHUNK / DiskTier.SLOT, 64L * CHUNK, background);
    // clean budget 8 MiB (a quarter of the volume); changed chunks are stored by the test's snapshot
    cache = new ChunkCache(new CacheConfig(16L * CHUNK, 4L * CHUNK, CHUNK, 2, 2, 4, maxDirtyAge,
        Duration.ofSeconds(5), Duration.ofSeconds(5)), disk);
    volume = new VolumeCache(store, cache);
  }

  @AfterEach
  void close() throws Exception {
    volume.close();
    disk.close();
  }

  void check(long offset, int n) throws Exception {
    ByteBuffer dst = ByteBuffer.allocate(n);
    volume.read(offset, dst);
    disk.writePending();
    assertThat(dst.array()).as("bytes at " + offset).isEqualTo(Arrays.copyOfRange(model, (int) offset,
        (int) offset + n));
  }

  long storeReads() {
    return store.reads.get() + store.rangeReads.get();
  }

  /** 3,000 random 4 KiB reads (the same ones every pass); the store reads they made. */
  long randomPass() throws Exception {
    long before = storeReads();
    Random r = new Random(7);
    for (int i = 0; i < 3000; i++) {
      check(r.nextLong(SIZE / 4096) * 4096, 4096);
    }
    return storeReads() - before;
  }

  /** Every chunk read whole, in 1 MiB reads; the store reads they made. */
  long wholePass() throws Exception {
    long before = storeReads();
    for (long off = 0; off < SIZE; off += CHUNK) {
      check(off, CHUNK);
    }
    return storeReads() - before;
  }

  @Test
  void aSecondPassReadsFromDiskAndEveryByteMatchesAlsoAfterWrites() throws Exception {
    open();
    long first = randomPass();
    assertThat(first).as("first pass: nearly all 512 granules from the store").isGreaterThan(400);
    long second = randomPass();
    assertThat(second).as("second pass: RAM and disk hold every granule (first pass: %d)", first)
        .isLessThanOrEqualTo(first / 100);
    assertThat(disk.hits()).isGreaterThan(first / 2);
    assertThat(wholePass()).as("cold whole chunks").isGreaterThan(CHUNKS / 2);
    assertThat(wholePass()).as("whole chunks again: from disk").isLessThanOrEqualTo(2);

    Random r = new Random(11);
    for (int i = 0; i < 40; i++) {
      long chunk = r.nextInt(CHUNKS);
      long off = chunk * CHUNK + r.nextInt(CHUNK / 4096) * 4096L;
      byte[] w = new byte[4096];
      r.nextBytes(w);
      volume.write(off, ByteBuffer.wrap(w), false);
      System.arraycopy(w, 0, model, (int) off, w.length);
      check(off, 4096);
    }
    volume.flush();
    randomPass();
    wholePass();
    volume.snapshot("s");
    assertThat(volume.dirtyChunks()).as("stored, clean again").isZero();
    assertThat(store.image()).isEqualTo(model);
    // the written chunks are clean again: they go through RAM to disk with their new bytes
    randomPass();
    wholePass();
    long last = randomPass() + wholePass();
    assertThat(last).as("after the writes settled, the disk holds the new bytes").isLessThanOrEqualTo(40);
    assertThat(disk.checksumFailures()).isZero();
    assertThat(disk.usedBytes()).isLessThanOrEqualTo(disk.capacityBytes());
  }

  @Test
  void aReopenUnderTheNextTenureReadsFromDiskAndAnotherTenureFromTheStore() throws Exception {
    store.tenure = new io.bucketdisk.store.ChunkStore.Tenure("vol", 1, 1);
    open();
    randomPass();
    wholePass();
    volume.close();
    store.tenure = new io.bucketdisk.store.ChunkStore.Tenure("vol", 1, 2);
    volume = new VolumeCache(store, cache);
    assertThat(wholePass()).as("whole chunks after a reconnect: from RAM and disk").isLessThanOrEqualTo(2);
    volume.close();
    store.tenure = new io.bucketdisk.store.ChunkStore.Tenure("vol", 1, 4); // another writer held generation 3
    volume = new VolumeCache(store, cache);
    assertThat(wholePass()).as("whole chunks after another writer: from the store").isEqualTo(CHUNKS);
  }

  /**
   * Four threads, each reading and writing its own chunks at random while chunks are uploaded (100 ms age bound),
   * evicted and written to disk by the tier's own thread: every read returns what its thread last wrote.
   */
  @Test
  void concurrentWritersNeverReadTheirOldBytesBack() throws Exception {
    open(true, Duration.ofMillis(100));
    var threads = new java.util.ArrayList<Thread>();
    var failures = new java.util.concurrent.ConcurrentLinkedQueue<Throwable>();
    for (int t = 0; t < 4; t++) {
      int me = t;
      threads.add(Thread.ofPlatform().start(() -> {
        Random r = new Random(100 + me);
        try {
          for (int i = 0; i < 3000; i++) {
            long chunk = r.nextInt(CHUNKS / 4) * 4L + me;
            long off = chunk * CHUNK + r.nextInt(CHUNK / 4096) * 4096L;
            if (r.nextInt(20) == 0) {
              byte[] w = new byte[4096];
              r.nextBytes(w);
              synchronized (model) {
                System.arraycopy(w, 0, model, (int) off, w.length);
              }
              volume.write(off, ByteBuffer.wrap(w), false);
            } else {
              ByteBuffer dst = ByteBuffer.allocate(4096);
              volume.read(off, dst);
              byte[] want;
              synchronized (model) {
                want = Arrays.copyOfRange(model, (int) off, (int) off + 4096);
              }
              assertThat(dst.array()).as("thread %d read %d at %d", me, i, off).isEqualTo(want);
            }
            if (i % 300 == 299) {
              Thread.sleep(150); // let the written chunks upload, turn clean and leave RAM for the disk
            }
          }
        } catch (Throwable e) {
          failures.add(e);
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    assertThat(failures).isEmpty();
    assertThat(disk.hits()).as("the disk tier served reads").isPositive();
    assertThat(disk.checksumFailures()).isZero();
  }
}
