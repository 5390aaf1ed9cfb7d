package io.bucketdisk.engine.cache;

import static io.bucketdisk.engine.cache.Parts.CHUNK;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ChunkCacheTest {
  final Parts p = new Parts();
  final ChunkCache cache = p.shared;

  static ChunkBuffer clean(long index) {
    return ChunkBuffer.clean(index, Parts.pattern(CHUNK, index));
  }

  @Test
  void getContainsAndRemoveSeeBothCleanTiers() {
    ChunkBuffer loaded = clean(1);
    ChunkBuffer uploaded = clean(2);
    assertThat(cache.admitLoaded(p.key(1), loaded, 0, false)).isEmpty();
    cache.admitUploaded(p.key(2), uploaded);
    assertThat(cache.inRecent(p.key(1))).isTrue();
    assertThat(cache.inCaffeine(p.key(2))).isTrue();
    assertThat(cache.contains(p.key(1))).isTrue();
    assertThat(cache.contains(p.key(2))).isTrue();
    assertThat(cache.get(p.key(1))).isSameAs(loaded);
    assertThat(cache.get(p.key(2))).isSameAs(uploaded);
    assertThat(cache.remove(p.key(1))).isSameAs(loaded);
    assertThat(cache.remove(p.key(2))).isSameAs(uploaded);
    assertThat(cache.contains(p.key(1))).isFalse();
    assertThat(cache.contains(p.key(2))).isFalse();
    assertThat(cache.get(p.key(3))).isNull();
    assertThat(cache.cleanBytes()).isZero();
  }

  @Test
  void theRecentTierPushesOutItsEldestForCaffeinesAdmission() {
    long recentChunks = cache.recentCapacityBytes() / CHUNK;
    assertThat(recentChunks).isEqualTo(3);
    for (long i = 0; i < recentChunks; i++) {
      assertThat(cache.admitLoaded(p.key(i), clean(i), 7, true)).isEmpty();
    }
    assertThat(cache.unreadReadAhead()).isEqualTo(3);
    cache.get(p.key(0));
    assertThat(cache.unreadReadAhead()).as("a hit reads it").isEqualTo(2);
    List<RecentChunks.Evicted> out = cache.admitLoaded(p.key(9), clean(9), 8, false);
    assertThat(out).extracting(e -> e.key().index()).as("least recently used: 1").containsExactly(1L);
    assertThat(out.getFirst().stamp()).isEqualTo(7);
    cache.offer(out.getFirst());
    assertThat(cache.inCaffeine(p.key(1))).isTrue();
    assertThat(cache.admitLoaded(p.key(1), clean(1), 9, false)).as("held by Caffeine: not loaded twice").isEmpty();
    assertThat(cache.inRecent(p.key(1))).isFalse();
    assertThat(cache.cleanBytes()).isEqualTo(4L * CHUNK);
  }

  @Test
  void cleanChunksUseTheDirtyShareWhileItIsNotDirtyAndGiveItBack() throws Exception {
    // 16 chunks: 6 dirty cap, 4 transfer buffers (2 of them the spares' room, never lent), 3 recent, 3 Caffeine's own
    for (long i = 0; i < 13; i++) {
      cache.admitUploaded(p.key(i), clean(i));
    }
    assertThat(cache.cleanBytes()).as("nothing dirty, no transfer: Caffeine holds its 3, the 6 of the dirty cap and "
        + "the 2 transfer buffers that are not the spares' room").isEqualTo(11L * CHUNK);
    assertThat(cache.spareBytes()).as("the two it evicted wait as spares").isEqualTo(ChunkCache.SPARES * (long) CHUNK);
    cache.loadStarted(CHUNK);
    assertThat(cache.cleanBytes()).as("a load in flight takes its transfer buffer back").isEqualTo(10L * CHUNK);
    assertThat(cache.spareBytes()).as("it took a spare, and the chunk its shrink evicted took the spare's place")
        .isEqualTo(ChunkCache.SPARES * (long) CHUNK);
    for (int i = 0; i < 6; i++) {
      assertThat(cache.limiter().acquire(CHUNK, 1_000_000_000L)).isTrue();
    }
    assertThat(cache.cleanBytes() + cache.spareBytes())
        .as("the dirty cap in use: Caffeine's own 3 and 3 idle transfer buffers, two of them arrays the shrinking "
            + "evicted, kept as spares").isEqualTo(6L * CHUNK);
    assertThat(cache.spareBytes()).isEqualTo(ChunkCache.SPARES * (long) CHUNK);
    assertThat(cache.residentBytes()).isLessThanOrEqualTo(16L * CHUNK);
    cache.loadBytesDone(CHUNK);
    cache.loadDone();
    assertThat(cache.spareBytes()).as("the spares stay for the next load or dirty chunk")
        .isEqualTo(ChunkCache.SPARES * (long) CHUNK);
    for (int i = 0; i < 6; i++) {
      cache.limiter().release(CHUNK);
    }
    for (long i = 20; i < 26; i++) {
      cache.admitUploaded(p.key(i), clean(i));
    }
    assertThat(cache.cleanBytes()).as("lent again").isGreaterThan(3L * CHUNK);
  }

  @Test
  void aWholeDirtyChunkTakesASpareArrayClearedElseANewOne() throws Exception {
    for (long i = 0; i < 13; i++) {
      cache.admitUploaded(p.key(i), clean(i));
    }
    for (int i = 0; i < 6; i++) {
      assertThat(cache.limiter().acquire(CHUNK, 1_000_000_000L)).isTrue();
    }
    assertThat(cache.spareBytes()).as("the shrinking evicted chunks into spares")
        .isEqualTo(ChunkCache.SPARES * (long) CHUNK);
    long bound = cache.caffeineBound();
    for (int k = 1; k <= ChunkCache.SPARES; k++) {
      byte[] a = cache.wholeArray(CHUNK);
      assertThat(a).hasSize(CHUNK);
      assertThat(cache.reusedArrays()).isEqualTo(k);
      assertThat(java.util.stream.IntStream.range(0, CHUNK).allMatch(j -> a[j] == 0))
          .as("another chunk's bytes are cleared").isTrue();
    }
    assertThat(cache.spareBytes()).isZero();
    assertThat(cache.caffeineBound()).as("a spare's room is not lent, held or not").isEqualTo(bound);
    assertThat(cache.wholeArray(CHUNK)).hasSize(CHUNK);
    assertThat(cache.reusedArrays()).as("none left: a new array").isEqualTo(ChunkCache.SPARES);
  }

  @Test
  void dirtySpaceIsLentInQuarterChunkStepsAndNeverWhileInUse() throws Exception {
    long step = CHUNK / 4;
    long all = cache.caffeineBound();
    assertThat(cache.limiter().acquire(1, 1_000_000_000L)).isTrue();
    assertThat(cache.caffeineBound()).as("one byte in use takes back a whole step").isEqualTo(all - step);
    assertThat(cache.limiter().acquire(step - 1, 1_000_000_000L)).isTrue();
    assertThat(cache.caffeineBound()).as("still within that step").isEqualTo(all - step);
    assertThat(cache.limiter().acquire(1, 1_000_000_000L)).isTrue();
    assertThat(cache.caffeineBound()).as("into the next").isEqualTo(all - 2 * step);
    cache.limiter().release(step + 1);
    assertThat(cache.caffeineBound()).as("given back").isEqualTo(all);
  }

  @Test
  void invalidateDropsOneOwnersChunksOnly() {
    ChunkOwner other = e -> {};
    cache.admitLoaded(p.key(1), clean(1), 0, false);
    cache.admitUploaded(p.key(2), clean(2));
    cache.admitUploaded(new ChunkKey(other, 2), clean(2));
    cache.invalidate(p.owner);
    assertThat(cache.contains(p.key(1))).isFalse();
    assertThat(cache.contains(p.key(2))).isFalse();
    assertThat(cache.contains(new ChunkKey(other, 2))).isTrue();
  }

  @Test
  void residentBytesCountLoadsInFlightAndScratchChunks() throws Exception {
    cache.loadStarted(CHUNK);
    byte[] scratch = cache.scratch(CHUNK).take();
    assertThat(cache.residentBytes()).isEqualTo(2L * CHUNK);
    cache.loadBytesDone(CHUNK);
    cache.loadDone();
    cache.scratch(CHUNK).give(scratch);
    assertThat(cache.residentBytes()).as("one scratch array is kept for reuse").isEqualTo(CHUNK);
    List<byte[]> taken = new java.util.ArrayList<>();
    for (int i = 0; i < cache.config().uploadParallelism(); i++) {
      taken.add(cache.scratch(CHUNK).take());
    }
    assertThat(cache.residentBytes()).isEqualTo((long) taken.size() * CHUNK);
    taken.forEach(cache.scratch(CHUNK)::give);
    assertThat(cache.residentBytes()).as("at most KEEP_FREE kept").isEqualTo((long) ScratchChunks.KEEP_FREE * CHUNK);
  }

  @Test
  void aLoadTakesTheArrayOfTheChunkItsShareEvictedAndThatBufferReadsNothingMore() throws Exception {
    List<ChunkBuffer> held = new java.util.ArrayList<>();
    for (long i = 0; i < 11; i++) { // all Caffeine may hold: nothing evicted, no spare
      held.add(clean(i));
      cache.admitUploaded(p.key(i), held.getLast());
    }
    byte[] array = cache.loadStarted(CHUNK);
    ChunkBuffer evicted = held.stream().filter(b -> !cache.contains(p.key(b.index))).findFirst().orElseThrow();
    assertThat(evicted.retired()).isTrue();
    assertThat(held.stream().filter(ChunkBuffer::retired)).hasSize(1);
    assertThat(cache.reusedArrays()).isEqualTo(1);
    assertThat(evicted.copyIfLive(0, 1, java.nio.ByteBuffer.allocate(1))).as("its array is the load's now").isFalse();
    java.util.Arrays.fill(array, (byte) 7);
    java.nio.ByteBuffer one = java.nio.ByteBuffer.allocate(1);
    ChunkBuffer kept = held.stream().filter(b -> cache.contains(p.key(b.index))).findFirst().orElseThrow();
    assertThat(kept.copyIfLive(0, 1, one)).isTrue();
    assertThat(one.get(0)).isEqualTo(Parts.pattern(CHUNK, kept.index)[0]);
    assertThat(cache.residentBytes()).isLessThanOrEqualTo(16L * CHUNK);
  }

  @Test
  void onlyACleanWholeBufferThatNobodyCopiesIsRetired() throws Exception {
    ChunkBuffer dirty = clean(1);
    dirty.dirty = true;
    assertThat(dirty.retire(CHUNK)).isNull();
    ChunkBuffer frozen = clean(2);
    frozen.data.freeze();
    assertThat(frozen.retire(CHUNK)).isNull();
    assertThat(frozen.retired()).isFalse();
    ChunkBuffer zeros = new ChunkBuffer(3, null, CHUNK);
    assertThat(zeros.retire(CHUNK)).isNull();
    ChunkBuffer copied = clean(5);
    Thread reader;
    synchronized (copied) { // the reader counts itself in, then waits for the monitor to copy
      reader = Thread.ofPlatform().start(() -> copied.copyIfLive(0, 1, java.nio.ByteBuffer.allocate(1)));
      while (reader.getState() != Thread.State.BLOCKED) {
        Thread.onSpinWait();
      }
      assertThat(copied.retire(CHUNK)).as("not while a reader copies").isNull();
    }
    reader.join();
    assertThat(copied.retire(CHUNK)).isNotNull();
    ChunkBuffer c = clean(4);
    byte[] array = c.data.array();
    assertThat(c.retire(CHUNK)).isSameAs(array);
    assertThat(c.retire(CHUNK)).as("once").isNull();
    assertThat(c.copyIfLive(0, 1, java.nio.ByteBuffer.allocate(1))).isFalse();
  }
}
