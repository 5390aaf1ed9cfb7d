package io.bucketdisk.store.object;

import io.bucketdisk.store.StoreException.Kind;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * The LIST pages of a {@link DirectoryObjectStore}: a listing walks the directory once, on its first page, and serves
 * later pages from a small cache keyed by the token (the 16 listings used last). A token whose listing left the cache
 * walks again and goes on after the token's key. Thread safe. Throws an {@link ObjectStoreException} (PERMANENT, 400)
 * for a token it did not make, and what the walk throws.
 */
final class DirectoryListing {
  /** Every object whose key starts with a prefix, in {@link #compareUtf8} order. */
  interface Walk {
    List<ObjectInfo> objects(String prefix) throws IOException;
  }

  private final Walk walk;
  private final Map<String, List<ObjectInfo>> listings = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, List<ObjectInfo>> eldest) {
      return size() > 16;
    }
  };

  DirectoryListing(Walk walk) {
    this.walk = walk;
  }

  /** The page of at most {@code maxKeys} keys starting with {@code prefix} after {@code token} (null: the first). */
  ListPage page(String prefix, @Nullable String token, int maxKeys) throws IOException {
    List<ObjectInfo> all = null;
    String startAfter = null;
    if (token != null) {
      int colon = token.indexOf(':');
      if (colon < 0) {
        throw new ObjectStoreException(Kind.PERMANENT, 400, "bad list token");
      }
      startAfter = token.substring(colon + 1);
      synchronized (listings) {
        all = listings.get(token.substring(0, colon) + "\0" + prefix);
      }
    }
    String id;
    if (all == null) {
      all = walk.objects(prefix);
      id = UUID.randomUUID().toString();
    } else {
      id = token.substring(0, token.indexOf(':'));
    }
    int from = 0;
    if (startAfter != null) {
      from = lowerBound(all, startAfter);
    }
    int to = Math.min(all.size(), from + maxKeys);
    List<ObjectInfo> page = all.subList(from, to);
    if (to >= all.size()) {
      synchronized (listings) {
        listings.remove(id + "\0" + prefix);
      }
      return new ListPage(page, null);
    }
    synchronized (listings) {
      listings.put(id + "\0" + prefix, all);
    }
    return new ListPage(page, id + ":" + page.getLast().key());
  }

  /** Index of the first entry whose key is greater than {@code after}. */
  private static int lowerBound(List<ObjectInfo> all, String after) {
    int lo = 0;
    int hi = all.size();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (compareUtf8(all.get(mid).key(), after) <= 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /** S3 orders keys by their UTF-8 bytes; for the ASCII keys of the layout this is String order. */
  static int compareUtf8(String a, String b) {
    return Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }
}
