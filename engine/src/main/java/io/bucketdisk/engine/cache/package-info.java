/**
 * The write-back chunk cache: the engine's {@link io.bucketdisk.engine.Volume} over a {@code ChunkStore}.
 *
 * <p><b>Data path.</b> Every handle of a volume shares one {@link io.bucketdisk.engine.cache.VolumeCache}, which
 * splits each verb into chunk pieces. Clean chunks live in the gateway-wide
 * {@link io.bucketdisk.engine.cache.ChunkCache} (bounded in bytes: an LRU stage for fresh loads, then Caffeine); dirty
 * chunks are pinned in their volume's dirty map until an upload of their current version succeeded. {@code
 * WriteBackFlusher} uploads in the background (age bound, dirty-space pressure, full chunks) and lets FLUSH/FUA wait
 * for exactly the versions they cover; {@link io.bucketdisk.engine.cache.DirtyLimiter} makes writers wait when the
 * dirty cap is reached.
 *
 * <p><b>Invariants.</b> (1) A dirty chunk is never in Caffeine, so eviction can only drop clean data. (2) A chunk
 * leaves the dirty map only through a successful PUT/DELETE of its current version. (3) A chunk's memory is in
 * exactly one budget (clean, dirty, transfer buffer), each bounded, so the cache never holds more than its
 * configured bytes. (4) Partial writes never download on the write path; missing ranges are merged from the store
 * before an upload or a read that needs them. The durability contract is written on {@code VolumeCache}.
 */
@NullMarked
package io.bucketdisk.engine.cache;

import org.jspecify.annotations.NullMarked;
