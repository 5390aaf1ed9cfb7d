package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StoredChunksTest {
  static LogIndex.Extent at(int segOffset, int length) {
    return new LogIndex.Extent(0, length, 7, 1, 0, length, segOffset, 0, false, 3);
  }

  @Test
  void extentsFarApartInOneSegmentAreReadByRunsNotByOneSpan() {
    StoredChunks.Segment merged = new StoredChunks.Segment(3, 7);
    // as a merged segment holds one chunk: two captures side by side, another 2 MiB further, one just within reach
    List<LogIndex.Extent> extents = new ArrayList<>(List.of(at(2 << 20, 4096), at(0, 4096), at(4096, 8192),
        at((2 << 20) + 4096 + StoredChunks.RUN_GAP, 4096)));
    List<Map.Entry<StoredChunks.Segment, List<LogIndex.Extent>>> runs = new ArrayList<>();
    StoredChunks.runs(merged, extents, runs);
    assertThat(runs).hasSize(2);
    assertThat(runs.get(0).getValue()).extracting(LogIndex.Extent::segOffset).containsExactly(0, 4096);
    assertThat(runs.get(1).getValue()).extracting(LogIndex.Extent::segOffset)
        .containsExactly(2 << 20, (2 << 20) + 4096 + StoredChunks.RUN_GAP);
    assertThat(runs).allSatisfy(r -> assertThat(r.getKey()).isEqualTo(merged));
  }
}
