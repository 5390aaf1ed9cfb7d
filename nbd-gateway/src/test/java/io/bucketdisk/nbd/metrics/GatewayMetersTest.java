package io.bucketdisk.nbd.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.engine.cache.ChunkCache;
import io.bucketdisk.engine.cache.DiskTier;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The cache meters in Prometheus form: the disk tier's appear only when there is one, under docs/metrics.md's names. */
@Timeout(30)
class GatewayMetersTest {
  @TempDir Path dir;

  @Test
  void theDiskTiersMetersAreThereOnlyWithATier() throws Exception {
    var without = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    GatewayMeters.bind(new ChunkCache(CacheConfig.ofSize(256L << 20)), without);
    assertThat(without.scrape()).contains("bucketdisk_cache_clean_bytes").doesNotContain("bucketdisk_cache_disk");

    try (DiskTier disk = DiskTier.open(dir, 64L << 20)) {
      var with = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      GatewayMeters.bind(new ChunkCache(CacheConfig.ofSize(256L << 20), disk), with);
      assertThat(with.scrape()).contains("bucketdisk_cache_disk_capacity_bytes 6.7108864E7",
          "bucketdisk_cache_disk_used_bytes 0.0", "bucketdisk_cache_disk_hits_total 0.0",
          "bucketdisk_cache_disk_misses_total", "bucketdisk_cache_disk_written_bytes_total",
          "bucketdisk_cache_disk_read_bytes_total", "bucketdisk_cache_disk_evictions_total",
          "bucketdisk_cache_disk_dropped_total", "bucketdisk_cache_disk_stale_total",
          "bucketdisk_cache_disk_checksum_failures_total", "bucketdisk_cache_disk_write_errors_total");
    }
  }
}
