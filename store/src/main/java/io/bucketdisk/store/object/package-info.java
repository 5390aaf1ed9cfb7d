/**
 * Object access: the few S3 operations the volume layout needs, behind {@link io.bucketdisk.store.object.ObjectStore}.
 *
 * <p>Two implementations: {@link io.bucketdisk.store.object.S3ObjectStore} (AWS SDK v2, any S3-compatible server)
 * and {@link io.bucketdisk.store.object.DirectoryObjectStore} (a local directory, the embedded default). Both give
 * the same semantics, checked by one contract test run against both: strong read-after-write, ranged reads,
 * conditional writes ({@code If-Match} / {@code If-None-Match}, the only concurrency primitive the layout uses),
 * paged LIST in key order, batched DELETE.
 *
 * <p>Retries live here and nowhere else: transient failures (5xx, 503 SlowDown, throttling, connection errors) are
 * retried with exponential backoff and full jitter, bounded in attempts and time
 * ({@link io.bucketdisk.store.object.RetryPolicy}); what escapes is an
 * {@link io.bucketdisk.store.object.ObjectStoreException} whose kind says transient, precondition (conflict) or
 * permanent.
 */
@NullMarked
package io.bucketdisk.store.object;

import org.jspecify.annotations.NullMarked;
