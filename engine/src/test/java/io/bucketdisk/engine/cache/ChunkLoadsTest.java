package io.bucketdisk.engine.cache;

import static io.bucketdisk.engine.cache.Parts.CHUNK;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class ChunkLoadsTest {
  final Parts p = new Parts();
  final AtomicBoolean closed = new AtomicBoolean();
  final DirtyChunks dirty = new DirtyChunks(p.owner, p.stored, p.shared, index -> loads().forget(index), (i, v) -> {});
  final ChunkLoads loads = new ChunkLoads(p.owner, p.stored, p.shared, dirty, p.counters, closed::get);

  ChunkLoads loads() {
    return loads;
  }

  @Test
  void readersOfOneChunkShareOneGetAndTheChunkLandsInTheRecentTier() throws Exception {
    byte[] data = Parts.pattern(CHUNK, 1);
    p.store.chunks.put(1L, data);
    p.store.readDelayMillis = 100;
    List<CompletableFuture<ChunkLoads.Result>> readers = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      readers.add(CompletableFuture.supplyAsync(() -> {
        try {
          return loads.load(1, dirty.stamp(1));
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      }, Parts.THREADS));
    }
    for (var r : readers) {
      ChunkLoads.Result result = r.get();
      if (!result.stale()) {
        assertThat(result.buffer().data.array()).isEqualTo(data);
      }
    }
    assertThat(p.store.reads.get()).isEqualTo(1);
    assertThat(p.shared.inRecent(p.key(1))).isTrue();
    assertThat(p.counters.gets()).isEqualTo(1);
    assertThat(p.shared.residentBytes()).as("the load no longer counts as in flight").isEqualTo(CHUNK);
  }

  @Test
  void aLoadOvertakenByAWriteIsStaleAndNotPublished() throws Exception {
    p.store.chunks.put(2L, Parts.pattern(CHUNK, 2));
    p.store.readDelayMillis = 200;
    long stamp = dirty.stamp(2);
    var reader = CompletableFuture.supplyAsync(() -> {
      try {
        return loads.load(2, stamp);
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    }, Parts.THREADS);
    Thread.sleep(50);
    dirty.write(2, 0, 1, ByteBuffer.wrap(new byte[] {9}), null);
    assertThat(reader.get().stale()).isTrue();
    assertThat(p.shared.contains(p.key(2))).as("never clean and dirty at once").isFalse();
  }

  @Test
  void prefetchSkipsAbsentDirtyAndCachedChunksAndCacheLoadsARange() throws Exception {
    for (long i = 0; i < 4; i++) {
      p.store.chunks.put(i, Parts.pattern(CHUNK, i));
    }
    dirty.write(1, 0, 1, ByteBuffer.wrap(new byte[] {9}), null);
    loads.prefetch(1);
    loads.prefetch(7);
    assertThat(p.counters.readAheads()).as("dirty and absent chunks are not read ahead").isZero();
    loads.loadAll(0, 3);
    assertThat(p.store.reads.get()).as("chunks 0, 2, 3").isEqualTo(3);
    assertThat(loads.cached(0)).isTrue();
    assertThat(loads.cached(1)).isFalse();
    loads.prefetch(0);
    assertThat(p.counters.readAheads()).as("cached: no second load").isEqualTo(3);
  }

  @Test
  void aDemotedChunkGoesToCaffeineUnlessItChangedOrTheVolumeClosed() throws Exception {
    ChunkBuffer b = ChunkBuffer.clean(3, Parts.pattern(CHUNK, 3));
    loads.demote(new RecentChunks.Evicted(p.key(3), b, dirty.stamp(3)));
    assertThat(p.shared.inCaffeine(p.key(3))).isTrue();
    ChunkBuffer c = ChunkBuffer.clean(4, Parts.pattern(CHUNK, 4));
    long old = dirty.stamp(4);
    dirty.write(4, 0, 1, ByteBuffer.wrap(new byte[] {9}), null);
    loads.demote(new RecentChunks.Evicted(p.key(4), c, old));
    assertThat(p.shared.inCaffeine(p.key(4))).isFalse();
    closed.set(true);
    loads.demote(new RecentChunks.Evicted(p.key(5), ChunkBuffer.clean(5, new byte[CHUNK]), dirty.stamp(5)));
    assertThat(p.shared.inCaffeine(p.key(5))).isFalse();
  }
}
