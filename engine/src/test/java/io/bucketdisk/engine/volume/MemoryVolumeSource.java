package io.bucketdisk.engine.volume;

import io.bucketdisk.engine.cache.MemoryChunkStore;
import io.bucketdisk.store.ChunkStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;

/** A {@link VolumeSource} over {@link MemoryChunkStore}s that outlive the exports opened on them (for tests). */
public final class MemoryVolumeSource implements VolumeSource {
  public final Map<String, MemoryChunkStore> stores = new ConcurrentSkipListMap<>();

  public MemoryChunkStore add(String name, long size, int chunkSize) {
    MemoryChunkStore s = new MemoryChunkStore(name, size, chunkSize, false);
    stores.put(name, s);
    return s;
  }

  @Override
  public List<Listing> list() {
    List<Listing> out = new ArrayList<>();
    stores.forEach((n, s) -> out.add(new Listing(n, s.size(), s.readOnly())));
    return out;
  }

  @Override
  public Optional<ChunkStore> open(String name) {
    return Optional.ofNullable(stores.get(name));
  }
}
