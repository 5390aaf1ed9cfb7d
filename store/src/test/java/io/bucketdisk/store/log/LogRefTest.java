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

  static LogRef m(long first, long last, long epoch) {
    return new LogRef(first, last, epoch);
  }

  @Test
  void aMergedSegmentTakesItsRunsPlaceWhateverOfTheRunIsLeft() {
    assertThat(LogRef.replayOrder(List.of(r(1, 1), m(2, 3, 1), r(4, 1)))).containsExactly(r(1, 1), m(2, 3, 1), r(4, 1));
    assertThat(LogRef.replayOrder(List.of(r(1, 1), r(2, 1), r(3, 1), m(2, 3, 1), r(4, 1))))
        .as("a crash before the originals were deleted").containsExactly(r(1, 1), m(2, 3, 1), r(4, 1));
    assertThat(LogRef.replayOrder(List.of(r(3, 1), m(2, 3, 1), r(4, 1)))).as("part of them deleted")
        .containsExactly(m(2, 3, 1), r(4, 1));
    assertThat(LogRef.replayOrder(List.of(m(1, 2, 1), m(3, 4, 1), m(1, 4, 1), r(5, 1))))
        .as("a merge of merged segments").containsExactly(m(1, 4, 1), r(5, 1));
    assertThat(LogRef.replayOrder(List.of(r(1, 1), r(2, 1), r(3, 2), m(1, 3, 2), r(4, 2))))
        .as("adopted originals of a lower epoch").containsExactly(m(1, 3, 2), r(4, 2));
  }

  @Test
  void aMergeThatOverlapsAnotherIsAppliedAfterItAndAGapStillStops() {
    assertThat(LogRef.replayOrder(List.of(m(1, 4, 1), m(3, 8, 1), r(9, 1))))
        .as("a merged PUT reported failed, then part of its run merged again")
        .containsExactly(m(1, 4, 1), m(3, 8, 1), r(9, 1));
    assertThat(LogRef.replayOrder(List.of(m(1, 3, 1), r(5, 1)))).containsExactly(m(1, 3, 1));
    assertThat(LogRef.replayOrder(List.of(m(1, 4, 2), m(1, 3, 1), r(5, 2))))
        .as("a fenced writer's late merge of what the next writer merged again").containsExactly(m(1, 4, 2), r(5, 2));
  }
}
