package io.bucketdisk.engine.cache;

import java.util.function.Consumer;

/**
 * A volume in the clean tiers' keys. It outlives one open of the volume when the cache keeps the volume's clean data
 * across a close and the next writable open ({@link ParkedVolumes}); whichever {@link VolumeCache} has the volume
 * open now takes what the recent tier pushes out.
 */
final class VolumeOwner implements ChunkOwner {
  private volatile Consumer<RecentChunks.Evicted> target = e -> {};

  /** From now on, chunks pushed out of the recent tier go to {@code demote}. */
  void demoteTo(Consumer<RecentChunks.Evicted> demote) {
    target = demote;
  }

  @Override
  public void demote(RecentChunks.Evicted evicted) {
    target.accept(evicted);
  }
}
