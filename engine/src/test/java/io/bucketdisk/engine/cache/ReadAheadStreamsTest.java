package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ReadAheadStreamsTest {
  static final int SHIFT = 22; // 4 MiB chunks
  static final int CHUNK = 1 << SHIFT;
  static final int QUARTER = CHUNK / 4;

  /** A read of a quarter chunk at the start of {@code chunk}. */
  static List<Long> read(ReadAheadStreams s, long chunk) {
    List<Long> out = new ArrayList<>();
    s.noteRead(chunk * CHUNK, QUARTER, out::add);
    return out;
  }

  @Test
  void aStreamPrefetchesOnceItIsSequentialAndEachTimeItReachesANewChunk() {
    var s = new ReadAheadStreams(3, SHIFT);
    assertThat(read(s, 10)).as("a new stream waits to be continued").isEmpty();
    assertThat(read(s, 10)).as("continued once: could be a random read that landed nearby").isEmpty();
    assertThat(read(s, 10)).as("continued twice: sequential").containsExactly(11L, 12L, 13L);
    assertThat(read(s, 10)).as("same chunk again").isEmpty();
    assertThat(read(s, 11)).containsExactly(12L, 13L, 14L);
    assertThat(read(s, 10)).as("a request that arrived late, one chunk behind").isEmpty();
  }

  @Test
  void smallReadsBecomeSequentialOnceAQuarterChunkWasRead() {
    var s = new ReadAheadStreams(2, SHIFT);
    int reads = 0;
    boolean sequential = false;
    for (long at = 0; !sequential && at < CHUNK; at += 4096) {
      sequential = s.noteRead(at, 4096, i -> {});
      reads++;
    }
    assertThat(reads).as("4 KiB reads until a stream is sequential").isEqualTo(QUARTER / 4096);
  }

  @Test
  void randomReadsAreNotSequentialAndStartNoReadAhead() {
    for (int chunks : new int[] {64, 256}) {
      var s = new ReadAheadStreams(8, SHIFT);
      var random = new Random(7);
      int sequential = 0;
      int prefetched = 0;
      for (int i = 0; i < 100_000; i++) {
        long at = (long) random.nextInt(chunks * (CHUNK / 4096)) * 4096; // 4k reads over the volume
        List<Long> out = new ArrayList<>();
        if (s.noteRead(at, 4096, out::add)) {
          sequential++;
        }
        prefetched += out.size();
      }
      // continuations alone (the rule before) took about 5% of them for sequential reads over 256 chunks
      assertThat(sequential).as("random reads over %d chunks taken for sequential ones, of 100,000", chunks).isZero();
      assertThat(prefetched).as("chunks prefetched over %d chunks", chunks).isZero();
    }
  }

  @Test
  void followsSeveralStreamsAndReplacesTheLeastRecentlyUsed() {
    var s = new ReadAheadStreams(1, SHIFT);
    for (int i = 0; i < ReadAheadStreams.STREAMS; i++) {
      read(s, 100L * i);
      read(s, 100L * i);
    }
    for (int i = 0; i < ReadAheadStreams.STREAMS; i++) {
      assertThat(read(s, 100L * i + 1)).as("stream %d", i).containsExactly(100L * i + 2);
    }
    read(s, 5000);
    assertThat(read(s, 102)).as("stream 1 is still there").containsExactly(103L);
    assertThat(read(s, 2)).as("stream 0 was the least recently used and is gone").isEmpty();
  }

  @Test
  void offWhenNothingIsAhead() {
    var s = new ReadAheadStreams(0, SHIFT);
    read(s, 1);
    read(s, 1);
    assertThat(read(s, 2)).isEmpty();
    assertThat(s.noteRead(3L * CHUNK, QUARTER, i -> {})).as("still tells a sequential read").isTrue();
  }
}
