package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReadAheadStreamsTest {

  static List<Long> read(ReadAheadStreams s, long first, long last) {
    List<Long> out = new ArrayList<>();
    s.noteRead(first, last, out::add);
    return out;
  }

  @Test
  void aStreamPrefetchesOnceItIsSequentialAndEachTimeItReachesANewChunk() {
    var s = new ReadAheadStreams(3);
    assertThat(read(s, 10, 10)).as("a new stream waits to be continued").isEmpty();
    assertThat(read(s, 10, 10)).as("continued once: could be a random read that landed nearby").isEmpty();
    assertThat(read(s, 10, 10)).as("continued twice: sequential").containsExactly(11L, 12L, 13L);
    assertThat(read(s, 10, 10)).as("same chunk again").isEmpty();
    assertThat(read(s, 11, 11)).containsExactly(12L, 13L, 14L);
    assertThat(read(s, 10, 10)).as("a request that arrived late, one chunk behind").isEmpty();
  }

  @Test
  void randomReadsAreNotSequentialAndStartNoReadAhead() {
    var s = new ReadAheadStreams(8);
    var random = new java.util.Random(7);
    int sequential = 0;
    int prefetched = 0;
    for (int i = 0; i < 10_000; i++) {
      long chunk = random.nextInt(256); // 4k reads over a 1 GiB volume of 4 MiB chunks
      List<Long> out = new ArrayList<>();
      if (s.noteRead(chunk, chunk, out::add)) {
        sequential++;
      }
      prefetched += out.size();
    }
    // one continuation (the rule before) took about 9% of them for sequential reads, each prefetching 8 chunks
    assertThat(sequential).as("random reads taken for sequential ones, of 10,000").isLessThan(200);
    assertThat(prefetched).as("chunks prefetched for 10,000 random reads").isLessThan(1600);
  }

  @Test
  void followsSeveralStreamsAndReplacesTheLeastRecentlyUsed() {
    var s = new ReadAheadStreams(1);
    for (int i = 0; i < ReadAheadStreams.STREAMS; i++) {
      read(s, 100L * i, 100L * i);
      read(s, 100L * i, 100L * i);
    }
    for (int i = 0; i < ReadAheadStreams.STREAMS; i++) {
      assertThat(read(s, 100L * i + 1, 100L * i + 1)).as("stream %d", i).containsExactly(100L * i + 2);
    }
    read(s, 5000, 5000);
    assertThat(read(s, 102, 102)).as("stream 1 is still there").containsExactly(103L);
    assertThat(read(s, 2, 2)).as("stream 0 was the least recently used and is gone").isEmpty();
  }

  @Test
  void offWhenNothingIsAhead() {
    var s = new ReadAheadStreams(0);
    read(s, 1, 1);
    read(s, 1, 1);
    assertThat(read(s, 2, 2)).isEmpty();
    assertThat(s.noteRead(3, 3, i -> {})).as("still tells a sequential read").isTrue();
  }
}
