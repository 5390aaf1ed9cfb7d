package io.bucketdisk.engine.cache;

import static io.bucketdisk.engine.cache.Parts.CHUNK;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.engine.EngineException;
import io.bucketdisk.store.StoreException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class UploadSchedulerTest {
  Parts p = new Parts();
  final AtomicBoolean closed = new AtomicBoolean();
  DirtyChunks dirty;
  UploadScheduler scheduler;

  void start(Parts parts) {
    p = parts;
    dirty = new DirtyChunks(p.owner, p.stored, p.shared, index -> {}, (i, v) -> {});
    WriteLog writeLog = p.writeLog();
    var uploader = new ChunkUploader(p.store, p.stored, p.shared, dirty, p.counters, writeLog);
    scheduler = new UploadScheduler("vol", p.shared, dirty, uploader, writeLog, p.counters, closed::get, () -> {});
    scheduler.start();
  }

  @AfterEach
  void stop() {
    scheduler.close();
  }

  void write(long index, int off, byte[] data) throws Exception {
    dirty.write(index, off, data.length, ByteBuffer.wrap(data), null);
  }

  @Test
  void concurrentWaitersShareOneUploadPerChunk() throws Exception {
    start(new Parts());
    p.store.writeDelayMillis = 100;
    for (long i = 0; i < 3; i++) {
      write(i, 0, Parts.pattern(CHUNK, i));
    }
    List<CompletableFuture<Void>> flushes = new ArrayList<>();
    for (int f = 0; f < 4; f++) {
      List<FlushTarget> targets = dirty.flushTargets();
      flushes.add(CompletableFuture.runAsync(() -> {
        try {
          scheduler.awaitDurable(targets, false);
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      }, Parts.THREADS));
    }
    for (var f : flushes) {
      f.get();
    }
    assertThat(p.store.writes.get()).isEqualTo(3);
    // the buffers are clean; the map entry goes a moment after the waiters were woken
    assertThat(dirty.atRisk().chunks()).isZero();
  }

  @Test
  void aWaiterFailsWhenTheUploadFailsAndAsFencedWhenTheLeaseIsGone() throws Exception {
    start(new Parts());
    write(0, 0, new byte[] {1});
    p.store.failAll = true;
    assertThatThrownBy(() -> scheduler.awaitDurable(dirty.foldTargets(), false)).isInstanceOf(EngineException.class)
        .satisfies(e -> assertThat(((EngineException) e).kind()).isEqualTo(EngineException.Kind.IO));
    p.store.failKind = StoreException.Kind.CONFLICT;
    assertThatThrownBy(() -> scheduler.awaitDurable(dirty.foldTargets(), false))
        .satisfies(e -> assertThat(((EngineException) e).kind()).isEqualTo(EngineException.Kind.FENCED));
    p.store.failAll = false;
    scheduler.awaitDurable(dirty.foldTargets(), false);
    assertThat(p.store.chunks).containsKey(0L);
  }

  @Test
  void oldChunksAreStoredWithoutAWaiterPartialOnesInTheLog() throws Exception {
    start(new Parts(Duration.ofMillis(100)));
    write(9, 0, new byte[] {1});
    p.store.chunks.put(10L, Parts.pattern(CHUNK, 10));
    write(10, 0, Parts.pattern(CHUNK, 11)); // whole: uploads as a chunk once old
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while ((dirty.notDurable(9) || dirty.contains(10)) && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(dirty.notDurable(9)).as("chunk 9's change is logged").isFalse();
    assertThat(p.store.log).hasSize(1);
    assertThat(p.store.chunks).doesNotContainKey(9L);
    assertThat(dirty.contains(10)).as("chunk 10 is stored and clean").isFalse();
    assertThat(p.store.chunks.get(10L)).isEqualTo(Parts.pattern(CHUNK, 11));
  }

  @Test
  void zeroedChunksAreDeletedInOneBatch() throws Exception {
    start(new Parts());
    for (long i = 0; i < 5; i++) {
      p.store.chunks.put(i, Parts.pattern(CHUNK, i));
      dirty.zero(i, null);
    }
    scheduler.awaitDurable(dirty.foldTargets(), false);
    assertThat(p.store.chunks).isEmpty();
    assertThat(p.store.deleteCalls.get()).isEqualTo(1);
    assertThat(p.store.writes.get()).isZero();
  }

  @Test
  void aRequestedUploadGoesWithoutWaitingForItsAge() throws Exception {
    start(new Parts());
    write(2, 0, Parts.pattern(CHUNK, 2));
    scheduler.requestUpload(dirty.get(2), false, true);
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (!dirty.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(p.store.chunks).containsKey(2L);
  }
}
