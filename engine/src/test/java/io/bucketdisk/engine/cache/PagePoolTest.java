package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class PagePoolTest {
  static final int CHUNK = 64 * ChunkBytes.PAGE;
  final PagePool pool = new PagePool(4);

  static ByteBuffer filled(int n, int value) {
    byte[] b = new byte[n];
    Arrays.fill(b, (byte) value);
    return ByteBuffer.wrap(b);
  }

  @Test
  void aReleasedChunksPagesServeTheNextWritesAndReadAsZerosWhereNotWritten() {
    ChunkBytes first = ChunkBytes.sparse(CHUNK, pool);
    first.write(0, filled(ChunkBytes.PAGE, 7), ChunkBytes.PAGE);
    first.write(5 * ChunkBytes.PAGE, filled(ChunkBytes.PAGE, 7), ChunkBytes.PAGE);
    first.release();
    assertThat(pool.kept()).isEqualTo(2);
    ByteBuffer gone = ByteBuffer.allocate(ChunkBytes.PAGE);
    first.copyTo(0, ChunkBytes.PAGE, gone);
    assertThat(gone.array()).as("a released chunk reads as zeros").containsOnly(0);

    ChunkBytes next = ChunkBytes.sparse(CHUNK, pool);
    next.write(100, filled(10, 9), 10);
    assertThat(pool.kept()).as("taken from the pool").isEqualTo(1);
    ByteBuffer page = ByteBuffer.allocate(ChunkBytes.PAGE);
    next.copyTo(0, ChunkBytes.PAGE, page);
    byte[] want = new byte[ChunkBytes.PAGE];
    Arrays.fill(want, 100, 110, (byte) 9);
    assertThat(page.array()).as("the old bytes are gone").isEqualTo(want);
  }

  @Test
  void aChunkMadeWholeGivesItsPagesBackAndThePoolKeepsNoMoreThanItsCapacity() {
    ChunkBytes c = ChunkBytes.sparse(CHUNK, pool);
    for (int p = 0; p < 8; p++) {
      c.write(p * ChunkBytes.PAGE, filled(ChunkBytes.PAGE, p), ChunkBytes.PAGE);
    }
    byte[] whole = c.array();
    assertThat(pool.kept()).isEqualTo(4);
    assertThat(whole[3 * ChunkBytes.PAGE]).isEqualTo((byte) 3);
    c.release();
    assertThat(pool.kept()).as("a whole chunk keeps its array").isEqualTo(4);
  }
}
