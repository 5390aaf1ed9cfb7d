/**
 * The volume layout in a bucket, as the gateway and the controller see it. {@link io.bucketdisk.store.ChunkStore}
 * is one open volume, chunk by chunk, for the gateway's cache. The catalog side (create, list, delete, snapshot,
 * clone, resize, lease) is defined next to it for the controller. Object access goes through
 * {@code io.bucketdisk.store.object.ObjectStore} (S3 or a local directory).
 */
@NullMarked
package io.bucketdisk.store;

import org.jspecify.annotations.NullMarked;
