package io.bucketdisk.store;

import static io.bucketdisk.store.ChunkIndex.FRAMED;
import static io.bucketdisk.store.ChunkIndex.INHERITED_FRAMED;
import static io.bucketdisk.store.ChunkIndex.PRESENT;
import static io.bucketdisk.store.ChunkIndex.RESOLVED;
import static io.bucketdisk.store.ChunkIndex.TOMBSTONE;
import static io.bucketdisk.store.ChunkIndex.has;

import io.bucketdisk.store.VolumeChunkStore.Layer;
import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.object.ListPage;
import io.bucketdisk.store.object.ObjectInfo;
import io.bucketdisk.store.object.ObjectStore;
import java.io.IOException;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The {@link ChunkIndex} of one open volume or snapshot over its read-through chain of layers (the first is the
 * volume's own keys): built by one paged LIST per layer, then kept by the handle's writes through {@link #current}, or
 * replaced whole. Answers which key holds a chunk's bytes and at which depth of the chain. Thread safe.
 */
final class LayeredIndex {
  private final ObjectStore store;
  private final ChecksummedChunks checked;
  private final String dataVolume;
  private final int chunkSize;
  private final List<Layer> layers;

  private volatile ChunkIndex index;

  /** An empty index of {@code sizeBytes}; {@link #install} or {@link #load} fills it. */
  LayeredIndex(ObjectStore store, ChecksummedChunks checked, String dataVolume, int chunkSize, List<Layer> layers,
      long sizeBytes) {
    this.store = store;
    this.checked = checked;
    this.dataVolume = dataVolume;
    this.chunkSize = chunkSize;
    this.layers = List.copyOf(layers);
    this.index = new ChunkIndex(chunks(sizeBytes));
  }

  /** The index in use; writes and deletes change its entries. */
  ChunkIndex current() {
    return index;
  }

  /** Builds the index of {@code sizeBytes} from the store and uses it. */
  void load(long sizeBytes) throws IOException {
    index = build(sizeBytes);
  }

  /** Uses {@code fresh}, from {@link #build}, from now on. */
  void install(ChunkIndex fresh) {
    index = fresh;
  }

  /** Grows the index in use to cover {@code sizeBytes}. */
  void grow(long sizeBytes) {
    index.grow(chunks(sizeBytes));
  }

  /** A new index of {@code sizeBytes} as the store holds it now: one paged LIST per layer. */
  ChunkIndex build(long sizeBytes) throws IOException {
    ChunkIndex idx = new ChunkIndex(chunks(sizeBytes));
    for (int k = 0; k < layers.size(); k++) {
      Layer layer = layers.get(k);
      String prefix = Layout.chunksPrefix(layer.volumeId());
      int pl = prefix.length();
      long current = -1;
      long newest = -1;
      boolean newestTomb = false;
      boolean newestFramed = false;
      boolean older = false;
      String token = null;
      do {
        ListPage page = store.list(prefix, token, 1000);
        for (ObjectInfo o : page.objects()) {
          long i = Layout.chunkIndex(o.key(), pl);
          long e = Layout.chunkEpoch(o.key(), pl);
          if (i < 0 || e < 0 || e > layer.maxEpoch() || i >= idx.chunks()) {
            continue;
          }
          if (i != current) {
            record(idx, k, current, newest, newestTomb, older, newestFramed);
            current = i;
            older = false;
          } else {
            older = true;
          }
          newest = e;
          newestTomb = o.size() == 0;
          newestFramed = checked.framed(o.size());
        }
        token = page.nextToken();
      } while (token != null);
      record(idx, k, current, newest, newestTomb, older, newestFramed);
    }
    return idx;
  }

  private static void record(ChunkIndex idx, int layer, long i, long epoch, boolean tomb, boolean older,
      boolean framed) {
    if (i < 0) {
      return;
    }
    if (layer == 0) {
      idx.setOwn(i, ChunkIndex.ownEntry(epoch, tomb, older, framed));
    } else if (!has(idx.inherited(i), RESOLVED)) {
      idx.setInherited(i, ChunkIndex.inheritedEntry(tomb ? 0 : layer + 1, epoch, framed));
    }
  }

  /** Where a chunk's bytes are: the key, and whether it is checksummed ({@link ChunkFrames}). */
  record Located(String key, boolean framed) {}

  /** The object holding chunk {@code i}'s bytes, or null when it reads as zeros. */
  @Nullable Located locate(long i) {
    ChunkIndex idx = index;
    long own = idx.own(i);
    if (has(own, PRESENT)) {
      return has(own, TOMBSTONE) ? null
          : new Located(Layout.chunkKey(dataVolume, i, ChunkIndex.epoch(own)), has(own, FRAMED));
    }
    long inh = idx.inherited(i);
    int depth = ChunkIndex.depth(inh);
    if (!has(inh, RESOLVED) || depth == 0) {
      return null;
    }
    return new Located(Layout.chunkKey(layers.get(depth - 1).volumeId(), i, ChunkIndex.epoch(inh)),
        has(inh, INHERITED_FRAMED));
  }

  /** See {@link ChunkStore#depth}. */
  int depth(long i) {
    ChunkIndex idx = index;
    if (i < 0 || i >= idx.chunks()) {
      return 0;
    }
    long own = idx.own(i);
    if (has(own, PRESENT)) {
      return has(own, TOMBSTONE) ? 0 : 1;
    }
    long inh = idx.inherited(i);
    return has(inh, RESOLVED) ? ChunkIndex.depth(inh) : 0;
  }

  /** Chunks with data visible through the chain. */
  long storedChunks() {
    long n = 0;
    for (long i = 0; i < index.chunks(); i++) {
      if (depth(i) > 0) {
        n++;
      }
    }
    return n;
  }

  private long chunks(long bytes) {
    return (bytes + chunkSize - 1) / chunkSize;
  }
}
