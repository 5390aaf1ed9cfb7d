package io.bucketdisk.engine.cache;

/** A chunk in the clean tiers of the {@link ChunkCache}: its owning volume (by identity) and its index. */
record ChunkKey(ChunkOwner owner, long index) implements CleanKey {}
