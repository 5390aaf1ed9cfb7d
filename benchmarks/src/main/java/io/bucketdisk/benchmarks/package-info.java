/** JMH benchmarks of the gateway's hot paths (not run by the tests; see docs/BENCHMARKING.md). */
package io.bucketdisk.benchmarks;
