package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class SegmentBuffersTest {
  final SegmentBuffers buffers = new SegmentBuffers();

  @Test
  void anArrayGivenBackIsTheNextSegmentsAndAGrownOneIsDropped() throws Exception {
    byte[] first = buffers.take();
    assertThat(first).hasSize(SegmentBuffers.SIZE);
    buffers.give(first);
    assertThat(buffers.take()).as("kept for the next segment").isSameAs(first);
    buffers.give(new byte[2 * SegmentBuffers.SIZE]);
    assertThat(buffers.kept()).as("a grown array is not kept").isZero();
    assertThat(buffers.take()).isNotSameAs(first).hasSize(SegmentBuffers.SIZE);
  }

  @Test
  void atMostFourSegmentsAtOnce() throws Exception {
    byte[][] taken = new byte[SegmentBuffers.IN_FLIGHT][];
    for (int i = 0; i < taken.length; i++) {
      taken[i] = buffers.take();
    }
    CompletableFuture<byte[]> fifth = CompletableFuture.supplyAsync(() -> {
      try {
        return buffers.take();
      } catch (InterruptedException e) {
        throw new RuntimeException(e);
      }
    });
    Thread.sleep(100);
    assertThat(fifth).isNotDone();
    buffers.give(taken[0]);
    assertThat(fifth.get(5, TimeUnit.SECONDS)).isSameAs(taken[0]);
  }
}
