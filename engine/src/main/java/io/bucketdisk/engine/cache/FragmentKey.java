package io.bucketdisk.engine.cache;

/** One granule of a chunk in the {@link ChunkCache}: owning volume (by identity), chunk, granule. */
record FragmentKey(ChunkOwner owner, long index, int granule) implements CleanKey {}
