package io.bucketdisk.engine.cache;

import static io.bucketdisk.engine.cache.Parts.CHUNK;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class ChunkUploaderTest {
  final Parts p = new Parts();
  final DirtyChunks dirty = new DirtyChunks(p.owner, p.stored, p.shared, index -> {}, (i, v) -> {});
  final ChunkUploader uploader = new ChunkUploader(p.store, p.stored, p.shared, dirty, p.counters, p.writeLog());

  @AfterEach
  void balanced() {
    assertThat(p.shared.scratch(CHUNK).inUse()).as("scratch chunks all given back").isZero();
  }

  ChunkBuffer write(long index, int off, byte[] data) throws Exception {
    dirty.write(index, off, data.length, ByteBuffer.wrap(data), null);
    return dirty.get(index);
  }

  static long attempt(ChunkBuffer b) {
    synchronized (b) {
      b.uploading = true;
      return ++b.attemptSeq;
    }
  }

  @Test
  void aPartialChunkIsMergedWithOneRangedGetWhenOneRangeIsMissing() throws Exception {
    byte[] stored = Parts.pattern(CHUNK, 1);
    p.store.chunks.put(1L, stored);
    ChunkBuffer b = write(1, 0, new byte[CHUNK - 100]);
    assertThat(uploader.upload(b, attempt(b))).isTrue();
    byte[] expected = new byte[CHUNK];
    System.arraycopy(stored, CHUNK - 100, expected, CHUNK - 100, 100);
    assertThat(p.store.chunks.get(1L)).isEqualTo(expected);
    assertThat(p.store.rangeReads.get()).isEqualTo(1);
    assertThat(p.store.reads.get()).isZero();
    assertThat(dirty.contains(1)).isFalse();
    assertThat(p.counters.puts()).isEqualTo(1);
  }

  @Test
  void twoMissingRangesTakeOneWholeGetAndAChunkTheStoreLacksNone() throws Exception {
    byte[] expected = Parts.pattern(CHUNK, 2);
    p.store.chunks.put(2L, expected.clone());
    ChunkBuffer b = write(2, 100, new byte[] {5});
    assertThat(uploader.upload(b, attempt(b))).isTrue();
    assertThat(p.store.reads.get()).isEqualTo(1);
    expected[100] = 5;
    assertThat(p.store.chunks.get(2L)).isEqualTo(expected);
    ChunkBuffer c = write(3, 100, new byte[] {5});
    assertThat(uploader.upload(c, attempt(c))).isTrue();
    assertThat(p.store.reads.get() + p.store.rangeReads.get()).as("chunk 3 was never stored: no GET").isEqualTo(1);
    byte[] three = new byte[CHUNK];
    three[100] = 5;
    assertThat(p.store.chunks.get(3L)).isEqualTo(three);
  }

  @Test
  void allZeroDataIsDeletedNotStored() throws Exception {
    p.store.chunks.put(4L, Parts.pattern(CHUNK, 4));
    ChunkBuffer b = write(4, 0, new byte[CHUNK]);
    assertThat(uploader.upload(b, attempt(b))).isTrue();
    assertThat(p.store.chunks).doesNotContainKey(4L);
    assertThat(p.store.writes.get()).isZero();
    assertThat(p.counters.deletes()).isEqualTo(1);
  }

  @Test
  void aFailedUploadReportsItsAttemptAndKeepsTheChunk() throws Exception {
    ChunkBuffer b = write(5, 0, new byte[] {1});
    p.store.failAll = true;
    long seq = attempt(b);
    assertThat(uploader.upload(b, seq)).isFalse();
    assertThat(b.failedSeq).isEqualTo(seq);
    assertThat(dirty.contains(5)).isTrue();
    assertThat(p.counters.failures()).isEqualTo(1);
    ChunkBuffer z = write(6, 0, new byte[] {1});
    dirty.zero(6, null);
    p.store.chunks.put(6L, new byte[CHUNK]);
    assertThat(uploader.delete(List.of(z), List.of(z.version), List.of(attempt(z)))).isFalse();
    assertThat(dirty.contains(6)).isTrue();
    p.store.failAll = false;
    assertThat(uploader.delete(List.of(z), List.of(z.version), List.of(attempt(z)))).isTrue();
    assertThat(dirty.contains(6)).isFalse();
  }

  /** Holds uploads off (as a snapshot does) until {@code release}; returns once they are held. */
  CompletableFuture<Void> holdUploadsUntil(CountDownLatch release) throws InterruptedException {
    CountDownLatch held = new CountDownLatch(1);
    var holder = CompletableFuture.runAsync(() -> {
      try {
        uploader.whileHeld(() -> {
          held.countDown();
          try {
            release.await();
          } catch (InterruptedException e) {
            throw new java.io.InterruptedIOException();
          }
        });
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    }, Parts.THREADS);
    held.await();
    return holder;
  }

  @Test
  void whileHeldNoUploadRuns() throws Exception {
    ChunkBuffer b = write(7, 0, Parts.pattern(CHUNK, 7));
    CountDownLatch release = new CountDownLatch(1);
    var snapshot = holdUploadsUntil(release);
    var upload = CompletableFuture.supplyAsync(() -> uploader.upload(b, attempt(b)), Parts.THREADS);
    Thread.sleep(200);
    assertThat(upload).as("waits for the snapshot").isNotDone();
    assertThat(p.store.chunks).doesNotContainKey(7L);
    release.countDown();
    snapshot.get(5, TimeUnit.SECONDS);
    assertThat(upload.get(5, TimeUnit.SECONDS)).isTrue();
    assertThat(Arrays.equals(p.store.chunks.get(7L), Parts.pattern(CHUNK, 7))).isTrue();
  }

  @Test
  void aWholeChunkIsSentWithoutACopyAndAWriteDuringItsUploadGoesToACopy() throws Exception {
    ChunkBuffer quiet = write(8, 0, Parts.pattern(CHUNK, 8));
    assertThat(uploader.upload(quiet, attempt(quiet))).isTrue();
    assertThat(p.shared.scratch(CHUNK).held()).as("no scratch array allocated").isZero();
    assertThat(Arrays.equals(p.store.chunks.get(8L), Parts.pattern(CHUNK, 8))).isTrue();

    ChunkBuffer b = write(9, 0, Parts.pattern(CHUNK, 9));
    CountDownLatch release = new CountDownLatch(1);
    var snapshot = holdUploadsUntil(release);
    long seq = attempt(b);
    var upload = CompletableFuture.supplyAsync(() -> uploader.upload(b, seq), Parts.THREADS);
    for (int i = 0; i < 500; i++) {
      synchronized (b) {
        if (b.uploadVersion >= 0) {
          break;
        }
      }
      Thread.sleep(10);
    }
    write(9, 0, new byte[] {42}); // the upload holds the chunk's bytes, waiting to store them
    release.countDown();
    snapshot.get(5, TimeUnit.SECONDS);
    assertThat(upload.get(5, TimeUnit.SECONDS)).isTrue();
    assertThat(Arrays.equals(p.store.chunks.get(9L), Parts.pattern(CHUNK, 9))).as("stored as captured").isTrue();
    assertThat(dirty.contains(9)).as("the later write keeps it dirty").isTrue();
    ByteBuffer now = ByteBuffer.allocate(1);
    synchronized (b) {
      b.data.copyTo(0, 1, now);
    }
    assertThat(now.get(0)).isEqualTo((byte) 42);
    assertThat(uploader.upload(b, attempt(b))).isTrue();
    byte[] expected = Parts.pattern(CHUNK, 9);
    expected[0] = 42;
    assertThat(Arrays.equals(p.store.chunks.get(9L), expected)).isTrue();
  }
}
