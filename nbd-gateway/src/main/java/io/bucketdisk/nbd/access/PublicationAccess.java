package io.bucketdisk.nbd.access;

import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.layout.VolumeManifest;
import java.io.IOException;
import java.util.Optional;

/**
 * The gateway's rule: a node may open a volume (or one of its snapshots, {@code volume@snapshot}) only while the
 * volume's manifest records a publication to that node: ControllerPublish for a persistent volume, the gateway itself
 * for an ephemeral one. Anything else, including names that do not exist, is refused the same way, so a peer learns
 * nothing about volumes that are not its own. Read per request from the store (no cache to go stale after an
 * unpublish). Thread safe.
 */
public final class PublicationAccess implements ExportAccess {
  private final VolumeCatalog catalog;

  public PublicationAccess(VolumeCatalog catalog) {
    this.catalog = catalog;
  }

  @Override
  public Optional<String> refusal(String peer, String export) throws IOException {
    int at = export.indexOf('@');
    String volume = at >= 0 ? export.substring(0, at) : export;
    Optional<VolumeManifest> m = volume.isEmpty() ? Optional.empty() : catalog.get(volume);
    if (m.isPresent() && m.get().publications().containsKey(peer)) {
      return Optional.empty();
    }
    return Optional.of("export '" + export + "' is not published to node " + peer);
  }
}
