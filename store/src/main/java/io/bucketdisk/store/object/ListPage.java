package io.bucketdisk.store.object;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One page of {@link ObjectStore#list}: objects in ascending key order, and the opaque token for the next page
 * (null on the last page).
 */
public record ListPage(List<ObjectInfo> objects, @Nullable String nextToken) {
  public ListPage {
    objects = List.copyOf(objects);
  }
}
