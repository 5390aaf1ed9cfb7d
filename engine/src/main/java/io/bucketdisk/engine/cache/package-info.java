/**
 * The write-back chunk cache: the engine's {@link io.bucketdisk.engine.Volume} over a {@code ChunkStore}.
 *
 * <p><b>Parts</b>, each owning one kind of state and talking to the others through methods:
 * <pre>
 *  VolumeCache (the verbs, per volume; no chunk state of its own)
 *    ├─ DirtyChunks       dirty set, versions, stripe stamps: every clean/dirty transition
 *    ├─ ChunkLoads        loads in flight, one GET per chunk, publication into the recent tier
 *    ├─ ReadAheadStreams  up to 8 sequential streams, what to prefetch next
 *    ├─ UploadScheduler   when a dirty chunk goes (age, pressure, full, FLUSH/FUA) and who waits for it
 *    └─ ChunkUploader     one PUT, delete batch or merge GET at a time, reported back to DirtyChunks
 *  ChunkCache (per gateway): RecentChunks + Caffeine (clean), DirtyLimiter (dirty cap), ScratchChunks, load slots
 *    ├─ DiskTier (optional) one file of 64 KiB slots below the clean tiers: what Caffeine evicts, read before a GET
 *    └─ ParkedVolumes     closed volumes' clean data, kept for the next open under the following writer tenure
 * </pre>
 *
 * <p><b>Invariants.</b> (1) A dirty chunk is never in a clean tier, so eviction can only drop clean data. (2) A chunk
 * leaves the dirty set only through a successful PUT/DELETE of its current version. (3) A chunk's memory is in
 * exactly one budget (clean, dirty, transfer buffer), each bounded, so the cache never holds more than its
 * configured bytes. (4) Partial writes never download on the write path; missing ranges are merged from the store
 * before an upload or a read that needs them. (5) A stale load never overwrites newer data (stripe stamps). The
 * durability contract is written on {@link io.bucketdisk.engine.cache.VolumeCache}.
 */
@NullMarked
package io.bucketdisk.engine.cache;

import org.jspecify.annotations.NullMarked;
