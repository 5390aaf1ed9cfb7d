package io.bucketdisk.engine.cache;

import io.bucketdisk.store.ChunkStore;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Closed volumes whose clean data the cache keeps for their next writable open, by volume id.
 *
 * <p><b>Rule.</b> A writable volume that closed cleanly (everything acknowledged stored or logged) parks its owner
 * with the writer tenure it held. The next open of that volume takes the owner back only if its own tenure
 * {@link ChunkStore.Tenure#follows} the parked one: no other writer held the volume in between, so the store holds
 * exactly what the clean data was read from. Any other open (another tenure, or none) drops the parked data. At most
 * {@link #MAX} volumes stay parked; the oldest is dropped first. Parked data takes its part of the clean budget like
 * any other and leaves by the same eviction.
 *
 * <p>Thread safe (one monitor; {@code drop} runs outside it).
 */
final class ParkedVolumes {
  static final int MAX = 64;

  /** A parked volume: its owner, the tenure it was written under, and the highest chunk version it handed out. */
  record Parked(VolumeOwner owner, ChunkStore.Tenure tenure, long version) {}

  private final LinkedHashMap<String, Parked> parked = new LinkedHashMap<>();
  private final Consumer<ChunkOwner> drop;

  /** Parked volumes whose data {@code drop} removes from the clean tiers when they are not taken back. */
  ParkedVolumes(Consumer<ChunkOwner> drop) {
    this.drop = drop;
  }

  /** Keeps {@code owner}'s clean data for the open after {@code tenure}. */
  void park(VolumeOwner owner, ChunkStore.Tenure tenure, long version) {
    Parked evicted = null;
    Parked replaced;
    synchronized (this) {
      replaced = parked.put(tenure.volume(), new Parked(owner, tenure, version));
      if (parked.size() > MAX) {
        Iterator<Map.Entry<String, Parked>> it = parked.entrySet().iterator();
        evicted = it.next().getValue();
        it.remove();
      }
    }
    if (replaced != null && replaced.owner() != owner) {
      drop.accept(replaced.owner());
    }
    if (evicted != null) {
      drop.accept(evicted.owner());
    }
  }

  /**
   * The parked volume an open under {@code tenure} may take back, or null; a parked volume of the same id that it may
   * not take is dropped. A null tenure (read-only open) takes nothing and leaves what is parked.
   */
  @Nullable Parked reopen(ChunkStore.@Nullable Tenure tenure) {
    if (tenure == null) {
      return null;
    }
    Parked p;
    synchronized (this) {
      p = parked.remove(tenure.volume());
    }
    if (p == null) {
      return null;
    }
    if (tenure.follows(p.tenure())) {
      return p;
    }
    drop.accept(p.owner());
    return null;
  }

  synchronized int size() {
    return parked.size();
  }
}
