package io.bucketdisk.engine.cache;

/** A key of the {@link ChunkCache}'s Caffeine cache: a whole chunk or one granule of it, of one volume. */
sealed interface CleanKey permits ChunkKey, FragmentKey {
  ChunkOwner owner();
}
