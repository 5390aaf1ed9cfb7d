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
  void aStreamPrefetchesOnceItContinuesAndEachTimeItReachesANewChunk() {
    var s = new ReadAheadStreams(3);
    assertThat(read(s, 10, 10)).as("a new stream waits to be continued").isEmpty();
    assertThat(read(s, 10, 10)).as("continued for the first time").containsExactly(11L, 12L, 13L);
    assertThat(read(s, 10, 10)).as("same chunk again").isEmpty();
    assertThat(read(s, 11, 11)).containsExactly(12L, 13L, 14L);
    assertThat(read(s, 10, 10)).as("a request that arrived late, one chunk behind").isEmpty();
  }

  @Test
  void followsSeveralStreamsAndReplacesTheLeastRecentlyUsed() {
    var s = new ReadAheadStreams(1);
    for (int i = 0; i < ReadAheadStreams.STREAMS; i++) {
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
    assertThat(read(s, 2, 2)).isEmpty();
  }
}
