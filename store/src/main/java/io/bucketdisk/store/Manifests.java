package io.bucketdisk.store;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.layout.VolumeManifest;
import io.bucketdisk.store.layout.VolumeManifest.State;
import io.bucketdisk.store.object.ObjectData;
import io.bucketdisk.store.object.ObjectStore;
import io.bucketdisk.store.object.ObjectStoreException;
import io.bucketdisk.store.object.WriteCondition;
import java.io.IOException;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The volume manifests of one store, the single point of agreement between processes. Reads return the manifest
 * with its ETag; every change is a read-modify-write with {@code If-Match}, retried on conflict, so concurrent
 * changes in any number of processes never get lost. Thread safe; holds no state besides the store and the clock.
 * Throws {@link StoreException} (NOT_FOUND for a change to a missing manifest, PERMANENT for a corrupt one); a
 * change's own exceptions pass through.
 */
final class Manifests {
  private static final int UPDATE_ATTEMPTS = 32;
  /** In-process serialization of manifest updates, per store and volume (see docs/store.md: s3proxy's If-Match). */
  private static final ReentrantLock[] LOCKS = new ReentrantLock[64];

  static {
    for (int i = 0; i < LOCKS.length; i++) {
      LOCKS[i] = new ReentrantLock();
    }
  }

  /** A manifest and the ETag it was read with. */
  record Versioned(VolumeManifest manifest, String etag) {}

  /** A manifest change; returning the argument itself means "nothing to change". */
  interface Change {
    VolumeManifest apply(VolumeManifest current) throws IOException;
  }

  private final ObjectStore store;
  private final Clock clock;

  Manifests(ObjectStore store, Clock clock) {
    this.store = store;
    this.clock = clock;
  }

  Optional<Versioned> read(String volumeId) throws StoreException {
    String key = Layout.manifestKey(volumeId);
    Optional<ObjectData> d = store.get(key);
    if (d.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new Versioned(Codec.manifest(key, d.get().bytes()), d.get().etag()));
  }

  VolumeManifest require(String volumeId) throws StoreException {
    return read(volumeId).map(Versioned::manifest)
        .orElseThrow(() -> new StoreException(Kind.NOT_FOUND, "volume " + volumeId + " does not exist"));
  }

  /**
   * Read-modify-write of a manifest with If-Match, retried on conflict. NOT_FOUND when it does not exist; the
   * change's exceptions pass through.
   */
  VolumeManifest update(String volumeId, Change change) throws IOException {
    ReentrantLock lock = LOCKS[Math.floorMod((store.describe() + "\0" + volumeId).hashCode(), LOCKS.length)];
    lock.lock();
    try {
      String key = Layout.manifestKey(volumeId);
      for (int attempt = 1; ; attempt++) {
        Versioned v = read(volumeId)
            .orElseThrow(() -> new StoreException(Kind.NOT_FOUND, "volume " + volumeId + " does not exist"));
        VolumeManifest next = change.apply(v.manifest());
        if (next == v.manifest()) {
          return next;
        }
        try {
          store.put(key, Codec.encode(next), WriteCondition.ifMatch(v.etag()));
          return next;
        } catch (ObjectStoreException e) {
          if (!e.isPrecondition() || attempt >= UPDATE_ATTEMPTS) {
            throw e;
          }
        }
        try {
          Thread.sleep(ThreadLocalRandom.current().nextLong(1, 5L * attempt + 2));
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new StoreException(Kind.TRANSIENT, "interrupted while updating volume " + volumeId);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  /** Now on the catalog's wall clock: the time written into leases, pins and publications. */
  long millis() {
    return clock.millis();
  }

  static void requireReady(VolumeManifest m) throws StoreException {
    if (m.state() != State.READY) {
      throw new StoreException(Kind.NOT_FOUND, "volume " + m.id() + " does not exist (deleted)");
    }
  }
}
