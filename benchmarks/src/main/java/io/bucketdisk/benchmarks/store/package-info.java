/**
 * The store-path benchmark: raw S3 throughput against the same bytes through the gateway's write-back cache
 * ({@link io.bucketdisk.benchmarks.store.StoreBench}, run by {@code bench/store-bench.sh}).
 */
@NullMarked
package io.bucketdisk.benchmarks.store;

import org.jspecify.annotations.NullMarked;
