/**
 * The volume layout in a bucket, as the gateway and the controller see it.
 *
 * <p>{@link io.bucketdisk.store.VolumeCatalog} is the controller's side (create, list, delete, resize, snapshot,
 * clone, lease, publish) and the door to the data: {@link io.bucketdisk.store.VolumeCatalog#open} gives a
 * {@link io.bucketdisk.store.ChunkStore}, one open volume chunk by chunk, for the gateway's cache. Object access goes
 * through {@link io.bucketdisk.store.object.ObjectStore} (S3 or a local directory); the stored records and key scheme
 * are in {@code io.bucketdisk.store.layout}. The catalog delegates to package-private parts: {@code Manifests} (every
 * manifest read and conditional change goes through it), {@code Snapshots}, {@code Leases}, {@code Publications},
 * {@code GarbageCollector} and {@code VolumeOpener}.
 *
 * <p><b>Design note.</b> Every manifest change is a read-modify-write with {@code If-Match}, so the manifest is the
 * single point of agreement between processes: epochs (writes go to the current one, snapshots pin older ones),
 * the lease (one writer, fenced by time and by the conditional write), snapshot pins and publications. Chunk objects
 * are written unconditionally and never read-modify-written: the epoch in their key, not a version check, keeps
 * snapshots and late writes apart. Chunk versions are deleted only when no pin and no live view can read them
 * (see {@code docs/store.md}).
 */
@NullMarked
package io.bucketdisk.store;

import org.jspecify.annotations.NullMarked;
