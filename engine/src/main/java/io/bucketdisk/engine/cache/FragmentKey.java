package io.bucketdisk.engine.cache;

/** One granule of a chunk in the fragment tier of the {@link ChunkCache}: owning volume (by identity), chunk, granule. */
record FragmentKey(ChunkOwner owner, long index, int granule) {}
