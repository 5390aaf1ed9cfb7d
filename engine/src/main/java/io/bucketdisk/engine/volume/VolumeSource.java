package io.bucketdisk.engine.volume;

import io.bucketdisk.store.ChunkStore;
import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * Where {@link VolumeRegistry} finds volumes by name: a volume under its id, a snapshot read-only under {@code
 * <volume>@<snapshot>}.
 *
 * <p>Thread safe. {@link #open} returns a store handle that holds the volume's lease when writable; the registry
 * closes it (flushed) when the last user of the volume is done.
 */
public interface VolumeSource {

  /** One exportable name with its size. */
  record Listing(String name, long sizeBytes, boolean readOnly) {}

  /** Every exportable name, volumes and their snapshots, in a stable order. */
  List<Listing> list() throws IOException;

  /** Opens {@code name} (a volume id, or {@code volume@snapshot} read-only); empty when there is no such name. */
  Optional<ChunkStore> open(String name) throws IOException;
}
