package io.bucketdisk.nbd.durable;

import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.ChunkStore;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeCatalog;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;

/**
 * What a volume would read as if its gateway died now: the image rebuilt from the bucket alone, by a read-only
 * handle of a fresh catalog (no lease, nothing cached, nothing shared with the gateway under test).
 *
 * <p>This is the one place the durability tests learn what "stored" means; when the layout changes (a write log in
 * front of the chunks), this class changes and the tests do not.
 */
public final class DurableImage {
  private DurableImage() {}

  /** The volume's bytes as the store holds them now (zeros where nothing is stored). */
  public static byte[] read(URI storeUrl, String volumeId) throws IOException {
    try (VolumeCatalog catalog = VolumeCatalog.open(storeUrl, CatalogOptions.defaults());
        ChunkStore chunks = catalog.open(volumeId, new LeaseOwner("durable-image-reader", "none"), true)) {
      long size = chunks.size();
      int chunkSize = chunks.chunkSize();
      if (size > Integer.MAX_VALUE - 8) {
        throw new IllegalArgumentException("volume " + volumeId + " too large for an in-memory image: " + size);
      }
      byte[] image = new byte[(int) size];
      for (long index = 0; index * chunkSize < size; index++) {
        int length = (int) Math.min(chunkSize, size - index * chunkSize);
        chunks.readRange(index, 0, ByteBuffer.wrap(image, (int) (index * chunkSize), length).slice());
      }
      return image;
    }
  }
}
