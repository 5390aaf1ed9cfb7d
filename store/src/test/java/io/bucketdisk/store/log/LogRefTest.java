package io.bucketdisk.store.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class LogRefTest {
  static LogRef r(long seq, long epoch) {
    return new LogRef(seq, epoch);
  }

  @Test
  void aRunIsAppliedInNumberOrder() {
    assertThat(LogRef.replayOrder(List.of(r(3, 1), r(1, 1), r(2, 1)))).containsExactly(r(1, 1), r(2, 1), r(3, 1));
    assertThat(LogRef.replayOrder(List.of())).isEmpty();
    assertThat(LogRef.replayOrder(List.of(r(7, 2), r(8, 3)))).as("a trimmed prefix, an epoch bump")
        .containsExactly(r(7, 2), r(8, 3));
  }

  @Test
  void aFencedWritersLatePutIsSkippedAndTheHigherEpochWinsANumber() {
    assertThat(LogRef.replayOrder(List.of(r(1, 1), r(2, 2), r(2, 1), r(3, 2))))
        .containsExactly(r(1, 1), r(2, 2), r(3, 2));
    assertThat(LogRef.replayOrder(List.of(r(1, 2), r(2, 1)))).as("a late segment after the new writer's")
        .containsExactly(r(1, 2));
  }

  @Test
  void nothingAfterAMissingNumberIsApplied() {
    assertThat(LogRef.replayOrder(List.of(r(1, 1), r(2, 1), r(4, 1), r(5, 1)))).containsExactly(r(1, 1), r(2, 1));
  }
}
