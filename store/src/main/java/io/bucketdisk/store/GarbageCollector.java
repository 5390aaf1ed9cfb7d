package io.bucketdisk.store;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.layout.ParentRef;
import io.bucketdisk.store.layout.SnapshotPin;
import io.bucketdisk.store.layout.VolumeManifest;
import io.bucketdisk.store.layout.VolumeManifest.State;
import io.bucketdisk.store.object.ListPage;
import io.bucketdisk.store.object.ObjectInfo;
import io.bucketdisk.store.object.ObjectStore;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes the objects nobody can read any more: chunk versions no snapshot pin and no live volume needs, every
 * object of a volume in DELETING state, and the pin of a deleted snapshot once its last clone is gone, which may
 * free its volume in turn (cascading up the parent chain). Thread safe and idempotent: a removal cut short is
 * finished by the next call; pins are changed only through {@link Manifests#update}.
 */
final class GarbageCollector {
  // catalog events log under the catalog's name, whichever part does the work
  private static final Logger log = LoggerFactory.getLogger(VolumeCatalog.class);

  private final ObjectStore store;
  private final Manifests manifests;

  GarbageCollector(ObjectStore store, Manifests manifests) {
    this.store = store;
    this.manifests = manifests;
  }

  /** Whether clones read through snapshot {@code snapshotId} of {@code volumeId}. */
  boolean hasDependents(String volumeId, String snapshotId) throws IOException {
    return !store.list(Layout.dependentsPrefix(volumeId, snapshotId), null, 1).objects().isEmpty();
  }

  /** Forgets a snapshot's pin, then removes what nobody needs any more (all of a deleted volume). */
  void dropPin(String volumeId, String snapshotId) throws IOException {
    VolumeManifest m;
    try {
      m = manifests.update(volumeId, cur -> {
        if (!cur.snapshots().containsKey(snapshotId)) {
          return cur;
        }
        Map<String, SnapshotPin> pins = new HashMap<>(cur.snapshots());
        pins.remove(snapshotId);
        VolumeManifest next = cur.withSnapshots(cur.epoch(), pins);
        return cur.state() == State.DELETED && pins.isEmpty() ? next.withState(State.DELETING) : next;
      });
    } catch (StoreException e) {
      if (e.kind() == Kind.NOT_FOUND) {
        return;
      }
      throw e;
    }
    if (m.state() == State.DELETING) {
      purge(volumeId);
    } else {
      collect(volumeId);
    }
  }

  /** Removes every object of a volume in DELETING state, then its manifest, then releases its parent. */
  void purge(String volumeId) throws IOException {
    Optional<Manifests.Versioned> v = manifests.read(volumeId);
    if (v.isEmpty()) {
      return;
    }
    VolumeManifest m = v.get().manifest();
    if (m.state() != State.DELETING) {
      m = manifests.update(volumeId, cur -> cur.state() == State.DELETING ? cur : cur.withState(State.DELETING));
    }
    long removed = deletePrefix(Layout.volumePrefix(volumeId));
    store.delete(Layout.manifestKey(volumeId));
    log.info("volume {}: deleted ({} objects removed)", volumeId, removed);
    ParentRef p = m.parent();
    if (p != null) {
      store.delete(Layout.dependentKey(p.volumeId(), p.snapshotId(), volumeId));
      Optional<Manifests.Versioned> pv = manifests.read(p.volumeId());
      SnapshotPin pin = pv.map(x -> x.manifest().snapshots().get(p.snapshotId())).orElse(null);
      if (pin != null && pin.deleted() && !hasDependents(p.volumeId(), p.snapshotId())) {
        dropPin(p.volumeId(), p.snapshotId());
      }
    }
  }

  private long deletePrefix(String prefix) throws IOException {
    long n = 0;
    for (int guard = 0; guard < 1_000_000; guard++) {
      // always list from the start: the previous page is gone
      ListPage page = store.list(prefix, null, 1000);
      if (page.objects().isEmpty()) {
        return n;
      }
      List<String> keys = page.objects().stream().map(ObjectInfo::key).toList();
      store.delete(keys);
      n += keys.size();
    }
    return n;
  }

  /**
   * Deletes chunk versions nobody can read: a key is needed when some pinned snapshot epoch S has key epoch &lt;= S
   * &lt; the next key's epoch for the same chunk, or when it is the newest key of a live volume.
   */
  void collect(String volumeId) throws IOException {
    Optional<Manifests.Versioned> v = manifests.read(volumeId);
    if (v.isEmpty()) {
      return;
    }
    VolumeManifest m = v.get().manifest();
    long[] pins = m.snapshots().values().stream().mapToLong(SnapshotPin::epoch).sorted().toArray();
    boolean live = m.state() == State.READY;
    String prefix = Layout.chunksPrefix(volumeId);
    int pl = prefix.length();
    List<String> garbage = new ArrayList<>();
    long groupIndex = -1;
    List<ObjectInfo> group = new ArrayList<>();
    String token = null;
    long removed = 0;
    do {
      ListPage page = store.list(prefix, token, 1000);
      for (ObjectInfo o : page.objects()) {
        long idx = Layout.chunkIndex(o.key(), pl);
        if (idx < 0) {
          continue;
        }
        if (idx != groupIndex) {
          judge(group, pins, live, pl, garbage);
          group.clear();
          groupIndex = idx;
        }
        group.add(o);
      }
      if (garbage.size() >= 1000) {
        store.delete(garbage);
        removed += garbage.size();
        garbage.clear();
      }
      token = page.nextToken();
    } while (token != null);
    judge(group, pins, live, pl, garbage);
    store.delete(garbage);
    removed += garbage.size();
    if (removed > 0) {
      log.info("volume {}: removed {} chunk versions no snapshot needs", volumeId, removed);
    }
  }

  private static void judge(List<ObjectInfo> group, long[] pins, boolean live, int pl, List<String> garbage) {
    for (int k = 0; k < group.size(); k++) {
      long e = Layout.chunkEpoch(group.get(k).key(), pl);
      long next = k + 1 < group.size() ? Layout.chunkEpoch(group.get(k + 1).key(), pl) : Long.MAX_VALUE;
      boolean needed = (live && k == group.size() - 1) || pinnedBetween(pins, e, next);
      if (!needed) {
        garbage.add(group.get(k).key());
      }
    }
  }

  /** Whether some pin S has {@code from <= S < to}. */
  static boolean pinnedBetween(long[] sortedPins, long from, long to) {
    int i = java.util.Arrays.binarySearch(sortedPins, from);
    int at = i >= 0 ? i : -i - 1;
    return at < sortedPins.length && sortedPins[at] < to;
  }
}
