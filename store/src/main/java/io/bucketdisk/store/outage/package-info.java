/**
 * Readable outages: {@link io.bucketdisk.store.outage.Outage} tracks one thing that keeps failing (the bucket, one
 * volume's uploads) and logs its failures throttled (the first at once, then one line per kind at most every few
 * seconds with a count and the time since the first, and one line when it works again), so that a store that stalls
 * for minutes gives a handful of lines, not thousands, and {@code /healthz} can say since when it fails.
 */
@NullMarked
package io.bucketdisk.store.outage;

import org.jspecify.annotations.NullMarked;
