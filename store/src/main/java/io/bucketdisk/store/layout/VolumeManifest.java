package io.bucketdisk.store.layout;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.time.Instant;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A volume's manifest, stored as JSON at {@code <prefix>manifests/<id>} and only ever replaced with a
 * conditional write ({@code If-Match} on the ETag it was read with), so that two writers never both win.
 *
 * <ul>
 *   <li>{@code sizeBytes}, {@code chunkSize}: geometry; the size only grows (resize), the chunk size never changes.
 *   <li>{@code epoch}: where writes go now; bumped by every snapshot.
 *   <li>{@code parent}: for a clone, where never-written chunks are read from.
 *   <li>{@code lease}: the current single writer, if any.
 *   <li>{@code snapshots}: every snapshot whose epoch must stay readable (id to pin).
 *   <li>{@code publications}: CSI ControllerPublish state (node id to publication).
 *   <li>{@code state}: {@link State#READY}, or {@link State#DELETED} when the user deleted the volume but snapshots
 *       or clones still need its chunks (hidden from get and list), or {@link State#DELETING} while its objects are
 *       being removed.
 *   <li>{@code writerGeneration}: how many times a new holder took the lease (0 in manifests written before it was
 *       counted). A writer that finds it one above the generation it held itself when it released the lease knows
 *       that nobody else wrote the volume in between (the gateway keeps its clean cache across such a reopen).
 * </ul>
 */
public record VolumeManifest(
    int format,
    String id,
    long sizeBytes,
    int chunkSize,
    long epoch,
    @Nullable ParentRef parent,
    @Nullable Lease lease,
    State state,
    Map<String, String> parameters,
    Map<String, SnapshotPin> snapshots,
    Map<String, Publication> publications,
    long createdAtMillis,
    long writerGeneration) {

  public static final int FORMAT = 1;

  /** Lifecycle of a manifest. */
  public enum State {
    READY,
    DELETED,
    DELETING
  }

  public VolumeManifest {
    // tolerate manifests written without these maps
    parameters = parameters == null ? Map.of() : Map.copyOf(parameters);
    snapshots = snapshots == null ? Map.of() : Map.copyOf(snapshots);
    publications = publications == null ? Map.of() : Map.copyOf(publications);
    state = state == null ? State.READY : state;
  }

  @JsonIgnore
  public Instant createdAt() {
    return Instant.ofEpochMilli(createdAtMillis);
  }

  /** Number of chunks covering {@code sizeBytes}. */
  @JsonIgnore
  public long chunkCount() {
    return (sizeBytes + chunkSize - 1) / chunkSize;
  }

  public VolumeManifest withLease(@Nullable Lease newLease) {
    return new VolumeManifest(format, id, sizeBytes, chunkSize, epoch, parent, newLease, state, parameters,
        snapshots, publications, createdAtMillis, writerGeneration);
  }

  /** The same with the next writer generation: a new holder took the lease (see {@link #writerGeneration}). */
  public VolumeManifest withNextWriter() {
    return new VolumeManifest(format, id, sizeBytes, chunkSize, epoch, parent, lease, state, parameters, snapshots,
        publications, createdAtMillis, writerGeneration + 1);
  }

  public VolumeManifest withSize(long newSize) {
    return new VolumeManifest(format, id, newSize, chunkSize, epoch, parent, lease, state, parameters, snapshots,
        publications, createdAtMillis, writerGeneration);
  }

  public VolumeManifest withState(State newState) {
    return new VolumeManifest(format, id, sizeBytes, chunkSize, epoch, parent, lease, newState, parameters,
        snapshots, publications, createdAtMillis, writerGeneration);
  }

  public VolumeManifest withSnapshots(long newEpoch, Map<String, SnapshotPin> newSnapshots) {
    return new VolumeManifest(format, id, sizeBytes, chunkSize, newEpoch, parent, lease, state, parameters,
        newSnapshots, publications, createdAtMillis, writerGeneration);
  }

  public VolumeManifest withPublications(Map<String, Publication> newPublications) {
    return new VolumeManifest(format, id, sizeBytes, chunkSize, epoch, parent, lease, state, parameters, snapshots,
        newPublications, createdAtMillis, writerGeneration);
  }
}
