package io.bucketdisk.store;

import java.util.Map;

/**
 * What to create: the volume id (also the NBD export name: 1..253 characters of {@code [A-Za-z0-9._-]}, starting with a letter or digit), its size
 * in bytes (kept exact; a last partial chunk is stored whole, its bytes past the size read as zeros), the chunk
 * size (a power of two between 64 KiB and 64 MiB; {@link #DEFAULT_CHUNK_SIZE} by default) and free-form parameters
 * (StorageClass parameters, labels) stored in the manifest.
 */
public record VolumeSpec(String id, long sizeBytes, int chunkSize, Map<String, String> parameters) {

  /** 4 MiB. */
  public static final int DEFAULT_CHUNK_SIZE = 4 << 20;

  public VolumeSpec {
    parameters = Map.copyOf(parameters);
  }

  /** A spec with the default chunk size and no parameters. */
  public static VolumeSpec of(String id, long sizeBytes) {
    return new VolumeSpec(id, sizeBytes, DEFAULT_CHUNK_SIZE, Map.of());
  }
}
