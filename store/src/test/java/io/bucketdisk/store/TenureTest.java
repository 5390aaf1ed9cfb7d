package io.bucketdisk.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.store.object.DirectoryObjectStore;
import io.bucketdisk.store.object.ObjectStore;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A writable handle's tenure follows the previous writable handle's exactly when no other writer held the volume
 * between them: what lets the gateway keep a closed volume's clean data for its next open.
 */
class TenureTest extends CatalogFixture {
  @TempDir Path dir;

  @Override
  ObjectStore newStore() throws Exception {
    return new DirectoryObjectStore(dir.resolve("store"), false, StoreMetrics.NONE);
  }

  ChunkStore.Tenure heldBy(LeaseOwner owner) throws Exception {
    try (ChunkStore cs = catalog.open("v", owner, false)) {
      return cs.tenure();
    }
  }

  @Test
  void aReopenByTheSameGatewayFollowsAndAnotherWriterInBetweenBreaksTheChain() throws Exception {
    catalog.create(spec("v", 4L * CHUNK));
    ChunkStore.Tenure first = heldBy(A);
    ChunkStore.Tenure second = heldBy(A);
    assertThat(second.follows(first)).as("A, then A again").isTrue();

    ChunkStore.Tenure other = heldBy(B);
    ChunkStore.Tenure third = heldBy(A);
    assertThat(other.follows(second)).isTrue();
    assertThat(third.follows(second)).as("A, then B, then A").isFalse();
  }

  @Test
  void readersHoldNoTenureAndDoNotBreakTheChain() throws Exception {
    catalog.create(spec("v", 4L * CHUNK));
    ChunkStore.Tenure first = heldBy(A);
    try (ChunkStore r = catalog.open("v", B, true)) {
      assertThat(r.tenure()).isNull();
    }
    assertThat(heldBy(A).follows(first)).isTrue();
  }

  @Test
  void aVolumeCreatedAgainUnderTheSameIdIsAnother() throws Exception {
    catalog.create(spec("v", 4L * CHUNK));
    ChunkStore.Tenure first = heldBy(A);
    catalog.delete("v");
    Thread.sleep(2); // a new creation time
    catalog.create(spec("v", 4L * CHUNK));
    heldBy(B);
    ChunkStore.Tenure again = heldBy(A);
    assertThat(again.generation()).as("the same generation count as before the delete").isEqualTo(first.generation() + 1);
    assertThat(again.follows(first)).isFalse();
  }
}
