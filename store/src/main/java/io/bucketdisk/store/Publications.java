package io.bucketdisk.store;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.layout.Publication;
import io.bucketdisk.store.layout.VolumeManifest;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * The nodes a volume is published to (CSI ControllerPublish), kept in its manifest and changed only through {@link
 * Manifests#update}, so the single-writer check sees every concurrent publication. Thread safe and idempotent:
 * publishing again with the same mode and unpublishing what is absent change nothing; CONFLICT for the other mode on
 * the same node, or a second writer when one writer is required.
 */
final class Publications {
  private final Manifests manifests;

  Publications(Manifests manifests) {
    this.manifests = manifests;
  }

  /** See {@link VolumeCatalog#publish(String, String, boolean, boolean)}. */
  VolumeManifest publish(String volumeId, String nodeId, boolean readOnly, boolean exclusiveWriter)
      throws IOException {
    Layout.checkId("volume", volumeId);
    return manifests.update(volumeId, cur -> {
      Manifests.requireReady(cur);
      Publication p = cur.publications().get(nodeId);
      if (p != null) {
        if (p.readOnly() != readOnly) {
          throw new StoreException(Kind.CONFLICT, "volume " + volumeId + " is published to " + nodeId
              + (p.readOnly() ? " read-only" : " read-write"));
        }
        return cur;
      }
      if (exclusiveWriter && !readOnly) {
        for (var e : cur.publications().entrySet()) {
          if (!e.getValue().readOnly()) {
            throw new StoreException(Kind.CONFLICT, "volume " + volumeId + " already has a writer on node "
                + e.getKey());
          }
        }
      }
      Map<String, Publication> pubs = new HashMap<>(cur.publications());
      pubs.put(nodeId, new Publication(readOnly, manifests.millis()));
      return cur.withPublications(pubs);
    });
  }

  /** Removes the publication to {@code nodeId}; no-op when absent or the volume is gone. */
  void unpublish(String volumeId, String nodeId) throws IOException {
    if (!Layout.ID.matcher(volumeId).matches()) {
      return;
    }
    try {
      manifests.update(volumeId, cur -> {
        if (!cur.publications().containsKey(nodeId)) {
          return cur;
        }
        Map<String, Publication> pubs = new HashMap<>(cur.publications());
        pubs.remove(nodeId);
        return cur.withPublications(pubs);
      });
    } catch (StoreException e) {
      if (e.kind() != Kind.NOT_FOUND) {
        throw e;
      }
    }
  }
}
