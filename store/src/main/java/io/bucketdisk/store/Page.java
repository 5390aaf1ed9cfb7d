package io.bucketdisk.store;

import java.util.List;
import org.jspecify.annotations.Nullable;

/** One page of a catalog listing, and the opaque token for the next page (null on the last page). */
public record Page<T>(List<T> items, @Nullable String nextToken) {
  public Page {
    items = List.copyOf(items);
  }
}
