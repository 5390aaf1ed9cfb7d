/**
 * A volume's write log on the object store: segments (one immutable object each, holding the changed extents of
 * many chunks), their format with checksums ({@link io.bucketdisk.store.log.LogSegment}), and the rule that says
 * which segments a replay applies, in which order ({@link io.bucketdisk.store.log.LogRef#replayOrder}).
 *
 * <p>The engine decides what goes into a segment and when; the store stamps it with its sequence number and the
 * writer's epoch, stores it under the lease, replays what is left when a writable handle opens, and deletes
 * segments whose extents are folded into chunk objects.
 */
@NullMarked
package io.bucketdisk.store.log;

import org.jspecify.annotations.NullMarked;
