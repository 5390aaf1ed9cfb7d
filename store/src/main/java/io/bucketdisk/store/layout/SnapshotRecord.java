package io.bucketdisk.store.layout;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.time.Instant;

/**
 * A snapshot, as stored at {@code <prefix>snapshots/<id>}: the source volume, the epoch it captured, the volume's
 * size and chunk size at that moment, and when it was taken. Snapshots are immutable; a snapshot's data are the
 * source volume's chunk keys with epoch &lt;= {@code epoch}.
 */
public record SnapshotRecord(
    int format, String id, String volumeId, long epoch, long sizeBytes, int chunkSize, long createdAtMillis) {

  public static final int FORMAT = 1;

  @JsonIgnore
  public Instant createdAt() {
    return Instant.ofEpochMilli(createdAtMillis);
  }
}
