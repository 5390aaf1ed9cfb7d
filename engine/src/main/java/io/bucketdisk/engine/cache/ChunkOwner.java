package io.bucketdisk.engine.cache;

/**
 * The volume a clean chunk belongs to, by identity (one per open {@link VolumeCache}): told when one of its chunks
 * leaves the {@link RecentChunks} tier, so that it can offer the chunk to Caffeine if it did not change meanwhile.
 */
@FunctionalInterface
interface ChunkOwner {
  void demote(RecentChunks.Evicted evicted);
}
