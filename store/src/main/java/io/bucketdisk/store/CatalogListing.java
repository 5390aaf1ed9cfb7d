package io.bucketdisk.store;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.object.ListPage;
import io.bucketdisk.store.object.ObjectStore;
import io.bucketdisk.store.object.ObjectStoreException;
import java.io.IOException;
import org.jspecify.annotations.Nullable;

/**
 * One LIST page for a catalog listing a caller pages through: at most 1000 entries (any count up to zero means
 * 1000), and a continuation token the store rejects becomes an {@link IllegalArgumentException}, since it came from
 * the caller.
 */
final class CatalogListing {
  private CatalogListing() {}

  static ListPage page(ObjectStore store, String prefix, @Nullable String token, int maxEntries) throws IOException {
    int max = maxEntries <= 0 ? 1000 : Math.min(maxEntries, 1000);
    try {
      return store.list(prefix, token, max);
    } catch (ObjectStoreException e) {
      if (token != null && e.kind() == Kind.PERMANENT && e.httpStatus() == 400) {
        throw new IllegalArgumentException("list token is not valid: " + e.getMessage(), e);
      }
      throw e;
    }
  }
}
