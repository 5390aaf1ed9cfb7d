package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The disk tier on a real file: round trip, its bound, corruption, stale publishes and slot reuse. */
@Timeout(60)
class DiskTierTest {
  static final int G = DiskTier.SLOT;

  @TempDir Path dir;
  final ChunkOwner owner = e -> {};
  /** A volume whose chunks are all clean; {@code stamp} moves when a test says a chunk changed. */
  final AtomicLong stamp = new AtomicLong();
  final DiskTier.Guard guard = new DiskTier.Guard() {
    @Override
    public long stamp(long index) {
      return stamp.get();
    }

    @Override
    public boolean whileClean(long index, long s, Runnable publish) {
      if (stamp.get() != s) {
        return false;
      }
      publish.run();
      return true;
    }
  };
  DiskTier disk;

  @AfterEach
  void close() throws Exception {
    if (disk != null) {
      disk.close();
    }
  }

  DiskTier tier(int slots) throws Exception {
    disk = new DiskTier(dir.resolve(DiskTier.FILE_NAME), slots, 64L * G, false);
    return disk;
  }

  static byte[] granule(int seed) {
    byte[] b = new byte[G];
    new Random(seed).nextBytes(b);
    return b;
  }

  void put(long index, int g, byte[] bytes) {
    disk.offer(owner, guard, index, g, bytes, bytes.length, stamp.get());
    disk.writePending();
  }

  byte[] get(long index, int g) {
    ByteBuffer dst = ByteBuffer.allocate(G);
    return disk.read(owner, index, g, dst) ? dst.array() : null;
  }

  @Test
  void granulesAndWholeChunksComeBackAsWritten() throws Exception {
    tier(256);
    put(3, 5, granule(1));
    assertThat(get(3, 5)).isEqualTo(granule(1));
    assertThat(get(3, 6)).as("never written").isNull();

    byte[] chunk = new byte[64 * G];
    new Random(2).nextBytes(chunk);
    disk.offer(owner, guard, 9, -1, ChunkBuffer.clean(9, chunk.clone()), chunk.length, stamp.get());
    disk.writePending();
    byte[] back = new byte[chunk.length];
    assertThat(disk.readChunk(owner, 9, back, chunk.length)).isTrue();
    assertThat(back).isEqualTo(chunk);
    assertThat(disk.readChunk(owner, 3, new byte[chunk.length], chunk.length)).as("one granule of 3 only").isFalse();
    assertThat(disk.bytesWritten()).isEqualTo(65L * G);

    disk.removeChunk(owner, 9, 64);
    assertThat(disk.readChunk(owner, 9, back, chunk.length)).as("dropped when the chunk becomes dirty").isFalse();
    disk.invalidate(owner);
    assertThat(get(3, 5)).as("dropped when the volume closes").isNull();
    assertThat(disk.usedSlots()).isZero();
    assertThat(disk.usedBytes()).isZero();
  }

  @Test
  void neverMoreThanItsSlotsLeastRecentlyUsedOut() throws Exception {
    tier(DiskTier.MIN_SLOTS);
    for (int i = 0; i < 3 * DiskTier.MIN_SLOTS; i++) {
      put(i, 0, granule(i));
      if (i >= 1) {
        assertThat(get(0, 0)).as("granule 0 is used after every put, so it stays").isEqualTo(granule(0));
      }
      assertThat(disk.usedSlots()).isLessThanOrEqualTo(DiskTier.MIN_SLOTS);
    }
    assertThat(disk.usedSlots()).isEqualTo(DiskTier.MIN_SLOTS);
    assertThat(disk.usedBytes()).isEqualTo((long) DiskTier.MIN_SLOTS * G);
    assertThat(disk.evictions()).isEqualTo(2L * DiskTier.MIN_SLOTS);
    assertThat(get(1, 0)).as("least recently used: out").isNull();
    int last = 3 * DiskTier.MIN_SLOTS - 1;
    assertThat(get(last, 0)).isEqualTo(granule(last));
    assertThat(java.nio.file.Files.size(dir.resolve(DiskTier.FILE_NAME))).isEqualTo((long) DiskTier.MIN_SLOTS * G);
  }

  @Test
  void aCorruptedSlotIsAMissAndCountedNeverWrongData() throws Exception {
    tier(256);
    put(1, 0, granule(7));
    DiskTier.Slot s = disk.lookup(new DiskTier.Key(owner, 1, 0));
    try (FileChannel f = FileChannel.open(dir.resolve(DiskTier.FILE_NAME), StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      ByteBuffer one = ByteBuffer.allocate(1);
      long pos = (long) s.slot() * G + 1234;
      f.read(one, pos);
      one.put(0, (byte) (one.get(0) ^ 0x10)).rewind();
      f.write(one, pos);
    }
    assertThat(get(1, 0)).isNull();
    assertThat(disk.checksumFailures()).isEqualTo(1);
    assertThat(disk.lookup(new DiskTier.Key(owner, 1, 0))).as("the entry is dropped").isNull();
    put(1, 0, granule(7));
    assertThat(get(1, 0)).as("written again, served again").isEqualTo(granule(7));
  }

  @Test
  void aChunkThatChangedWhileItsWriteWasQueuedIsNotPublished() throws Exception {
    tier(256);
    disk.offer(owner, guard, 4, 2, granule(3), G, stamp.get());
    stamp.incrementAndGet(); // a write made chunk 4 dirty (and dropped its entries) before the writer ran
    disk.writePending();
    assertThat(get(4, 2)).isNull();
    assertThat(disk.stale()).isEqualTo(1);
    assertThat(disk.usedSlots()).isZero();
  }

  @Test
  void aSlotReusedDuringARead_IsNotServedAsTheOldKey() throws Exception {
    tier(DiskTier.MIN_SLOTS);
    put(0, 0, granule(0));
    DiskTier.Key old = new DiskTier.Key(owner, 0, 0);
    DiskTier.Slot s = disk.lookup(old); // a reader found the slot ...
    for (int i = 1; i <= DiskTier.MIN_SLOTS; i++) {
      put(i, 0, granule(i)); // ... then the tier reused it for another key before the reader's read
    }
    assertThat(disk.lookup(old)).isNull();
    ByteBuffer dst = ByteBuffer.allocate(G);
    assertThat(disk.readSlot(old, s, dst)).isFalse();
    assertThat(dst.position()).isZero();
    assertThat(disk.checksumFailures()).as("the generation tells a reuse from corruption").isZero();
  }

  @Test
  void openRefusesAMissingDirectoryATinySizeAndMoreThanTheFreeSpace() {
    assertThatThrownBy(() -> DiskTier.open(dir.resolve("nope"), 1L << 30))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a directory");
    assertThatThrownBy(() -> DiskTier.open(dir, 1L << 20))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be from");
    assertThatThrownBy(() -> DiskTier.open(dir, 1L << 46))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("free");
  }
}
