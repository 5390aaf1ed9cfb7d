/**
 * The volume lifecycle of a gateway: which names exist, and which volumes are open.
 *
 * <p>{@link io.bucketdisk.engine.volume.VolumeSource} names the volumes (from the store's catalog,
 * {@link io.bucketdisk.engine.volume.CatalogVolumeSource}: volumes writable under this gateway's lease, snapshots
 * read-only as {@code volume@snapshot}). {@link io.bucketdisk.engine.volume.VolumeRegistry} opens a volume on the
 * first {@link io.bucketdisk.engine.volume.VolumeHandle} asked for it and flushes and closes it when the last one
 * closes, so all users of a volume share one {@link io.bucketdisk.engine.Volume}. It is also what the control API
 * flushes, snapshots and lists. Front ends (NBD) adapt handles to their own protocol; nothing here knows NBD.
 */
@NullMarked
package io.bucketdisk.engine.volume;

import org.jspecify.annotations.NullMarked;
