package io.bucketdisk.nbd.durable;

import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.ChunkStore;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeCatalog;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import io.bucketdisk.store.layout.Layout;
import io.bucketdisk.store.log.LogExtent;
import io.bucketdisk.store.log.LogRef;
import io.bucketdisk.store.log.LogSegment;
import io.bucketdisk.store.object.ObjectInfo;
import io.bucketdisk.store.object.ObjectStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a volume would read as if its gateway died now: the image rebuilt from the bucket alone, by a read-only
 * handle of a fresh catalog (no lease, nothing cached, nothing shared with the gateway under test), with the
 * volume's write log applied over the chunk objects as the next writer's replay would apply it.
 *
 * <p>The log is read before the chunks: a segment the gateway deletes meanwhile was folded into its chunks, and a
 * chunk folded meanwhile holds only logged state, so the image is what a replay would give at the moment of the
 * call, provided no client writes during it (the tests call it while a FLUSH or FUA reply waits).
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
      List<LogSegment.Decoded> log = readLog(catalog.objectStore(), volumeId);
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
      for (LogSegment.Decoded segment : log) {
        for (LogExtent e : segment.extents()) {
          long at = e.chunk() * chunkSize + e.offset();
          int n = (int) Math.max(0, Math.min(e.length(), size - at));
          ByteBuffer data = e.data();
          if (data == null) {
            Arrays.fill(image, (int) at, (int) at + n, (byte) 0);
          } else {
            data.duplicate().get(image, (int) at, n);
          }
        }
      }
      return image;
    }
  }

  private static List<LogSegment.Decoded> readLog(ObjectStore store, String volumeId) throws IOException {
    String prefix = Layout.logPrefix(volumeId);
    List<LogRef> refs = new ArrayList<>();
    for (ObjectInfo o : store.list(prefix, null, 1000).objects()) {
      LogRef r = Layout.logRef(o.key(), prefix.length());
      if (r != null) {
        refs.add(r);
      }
    }
    List<LogSegment.Decoded> out = new ArrayList<>();
    for (LogRef r : LogRef.replayOrder(refs)) {
      var data = store.get(Layout.logKey(volumeId, r));
      if (data.isEmpty()) {
        continue; // deleted after folding: its bytes are in the chunks read below
      }
      try {
        out.add(LogSegment.decode(ByteBuffer.wrap(data.get().bytes())));
      } catch (LogSegment.DamagedException e) {
        throw new IOException("log segment " + r + " of " + volumeId + " is damaged: " + e.getMessage(), e);
      }
    }
    return out;
  }
}
