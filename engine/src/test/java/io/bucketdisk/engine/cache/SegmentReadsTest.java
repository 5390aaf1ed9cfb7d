package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.store.StoreException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class SegmentReadsTest {
  static final int CHUNK = 64 << 10;
  static final int SEGMENT = 256 << 10;
  final MemoryChunkStore store = new MemoryChunkStore("vol", 64L * CHUNK, CHUNK, false);
  final SegmentReads reads = new SegmentReads(store, new CacheCounters(), new Semaphore(SegmentReads.BUDGET));

  static SegmentReads.Want want(int segOffset, int length) {
    LogIndex.Extent e = new LogIndex.Extent(0, length, 7, 1, 0, length, segOffset, 0, false, 3);
    return new SegmentReads.Want(0, 0, ByteBuffer.allocate(0), e, new SegmentReads.Reader());
  }

  @Test
  void extentsFarApartInOneSegmentAreReadBySpansNotByOneRange() {
    // as a merged segment holds one chunk: two captures side by side, another 2 MiB further, one just within reach
    List<SegmentReads.Want> wants = new ArrayList<>(List.of(want(2 << 20, 4096), want(0, 4096), want(4096, 8192),
        want((2 << 20) + 4096 + SegmentReads.RUN_GAP, 4096)));
    List<List<SegmentReads.Want>> spans = SegmentReads.spans(wants);
    assertThat(spans).hasSize(2);
    assertThat(spans.get(0)).extracting(w -> w.extent().segOffset()).containsExactly(0, 4096);
    assertThat(spans.get(1)).extracting(w -> w.extent().segOffset())
        .containsExactly(2 << 20, (2 << 20) + 4096 + SegmentReads.RUN_GAP);
  }

  @Test
  void aSpanHoldsAtMostMaxSpanBytesUnlessOneExtentIsLarger() {
    List<SegmentReads.Want> wants = new ArrayList<>();
    for (int k = 0; k < 300; k++) {
      wants.add(want(k * 4096, 4096)); // 1.17 MiB side by side
    }
    wants.add(want(2 << 20, 3 << 20));
    List<List<SegmentReads.Want>> spans = SegmentReads.spans(wants);
    assertThat(spans).extracting(List::size).containsExactly(SegmentReads.MAX_SPAN / 4096, 300 - 256, 1);
  }

  /** Segments 1..n, each of SEGMENT random bytes; chunk c's extent in segment s is 4 KiB at c * 8 KiB. */
  void segments(int n) {
    for (long s = 1; s <= n; s++) {
      store.log.put(s, VolumeCacheTest.pattern(SEGMENT, (int) s));
    }
  }

  List<LogIndex.Extent> extentsOf(int chunk, int n) {
    List<LogIndex.Extent> out = new ArrayList<>();
    for (long s = 1; s <= n; s++) {
      int at = chunk * 8192;
      CRC32C crc = new CRC32C();
      crc.update(store.log.get(s), at, 4096);
      int start = (int) (s - 1) * 4096; // chunk offset: one 4 KiB piece per segment
      out.add(new LogIndex.Extent(start, start + 4096, s, s, start, 4096, at, (int) crc.getValue(), false, s));
    }
    return out;
  }

  void check(int chunk, int n, byte[] dst) {
    for (int s = 1; s <= n; s++) {
      byte[] seg = store.log.get((long) s);
      assertThat(java.util.Arrays.copyOfRange(dst, (s - 1) * 4096, s * 4096))
          .as("chunk %d piece from segment %d", chunk, s)
          .isEqualTo(java.util.Arrays.copyOfRange(seg, chunk * 8192, chunk * 8192 + 4096));
    }
  }

  @Test
  void readsOfOneSegmentThatWaitTogetherAreOneGet() throws Exception {
    int n = SegmentReads.PARALLEL;
    segments(n);
    CountDownLatch release = new CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger waiting = new java.util.concurrent.atomic.AtomicInteger();
    store.beforeLogRead = () -> {
      waiting.incrementAndGet();
      try {
        release.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    };
    // chunk 0 takes every worker; chunks 1 and 2 (8 KiB apart in each segment) queue behind it
    byte[][] dst = new byte[3][CHUNK];
    List<Thread> readers = new ArrayList<>();
    List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
    for (int c = 0; c < 3; c++) {
      int chunk = c;
      readers.add(Thread.ofVirtual().start(() -> {
        try {
          reads.read(chunk, 0, extentsOf(chunk, n), ByteBuffer.wrap(dst[chunk]));
        } catch (Throwable t) {
          failures.add(t);
        }
      }));
      while (chunk == 0 && waiting.get() < n) {
        Thread.sleep(1); // every worker took a segment of chunk 0
      }
    }
    while (reads.queuedWants() < 2 * n) {
      Thread.sleep(1);
    }
    release.countDown();
    for (Thread t : readers) {
      t.join(10_000);
    }
    assertThat(failures).isEmpty();
    for (int c = 0; c < 3; c++) {
      check(c, n, dst[c]);
    }
    assertThat(store.logReads.get()).as("chunk 0 alone, then chunks 1 and 2 together per segment").isEqualTo(2L * n);
  }

  @Test
  void volumesShareOneBudgetOfSpanBytes() throws Exception {
    int n = SegmentReads.PARALLEL;
    segments(n);
    MemoryChunkStore other = new MemoryChunkStore("other", 64L * CHUNK, CHUNK, false);
    store.log.forEach(other.log::put);
    Semaphore budget = new Semaphore(4096); // one 4 KiB span at a time, gateway-wide
    java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger most = new java.util.concurrent.atomic.AtomicInteger();
    Runnable slowGet = () -> {
      most.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
      try {
        Thread.sleep(2);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      inFlight.decrementAndGet();
    };
    store.beforeLogRead = slowGet;
    other.beforeLogRead = slowGet;
    List<SegmentReads> volumes = List.of(new SegmentReads(store, new CacheCounters(), budget),
        new SegmentReads(other, new CacheCounters(), budget));
    byte[][] dst = new byte[2][CHUNK];
    List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<Thread> readers = new ArrayList<>();
    for (int v = 0; v < 2; v++) {
      int volume = v;
      readers.add(Thread.ofVirtual().start(() -> {
        try {
          volumes.get(volume).read(0, 0, extentsOf(0, n), ByteBuffer.wrap(dst[volume]));
        } catch (Throwable t) {
          failures.add(t);
        }
      }));
    }
    for (Thread r : readers) {
      r.join(10_000);
    }
    assertThat(failures).isEmpty();
    check(0, n, dst[0]);
    check(0, n, dst[1]);
    assertThat(store.logReads.get() + other.logReads.get()).isEqualTo(2L * n);
    assertThat(most.get()).as("GETs at once across both volumes").isOne();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (budget.availablePermits() < 4096 && System.nanoTime() < deadline) {
      Thread.sleep(1); // a worker gives a span's bytes back just after its readers are told
    }
    assertThat(budget.availablePermits()).as("every span gave its bytes back").isEqualTo(4096);
  }

  @Test
  void aDamagedExtentFailsItsReaderWithEioAndAGoneSegmentWithNotFound() throws Exception {
    segments(2);
    List<LogIndex.Extent> good = extentsOf(0, 2);
    List<LogIndex.Extent> bad = new ArrayList<>(good);
    LogIndex.Extent e = bad.getFirst();
    bad.set(0, new LogIndex.Extent(e.start(), e.end(), e.seq(), e.version(), e.storedStart(), e.storedLength(),
        e.segOffset(), e.crc() ^ 1, false, e.first()));
    assertThatThrownBy(() -> reads.read(0, 0, bad, ByteBuffer.allocate(CHUNK)))
        .isInstanceOf(io.bucketdisk.engine.EngineException.class).hasMessageContaining("fails its checksum");
    store.log.remove(2L);
    assertThatThrownBy(() -> reads.read(0, 0, good, ByteBuffer.allocate(CHUNK)))
        .isInstanceOfSatisfying(StoreException.class,
            se -> assertThat(se.kind()).isEqualTo(StoreException.Kind.NOT_FOUND));
  }
}
