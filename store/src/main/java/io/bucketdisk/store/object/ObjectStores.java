package io.bucketdisk.store.object;

import io.bucketdisk.store.StoreException;
import io.bucketdisk.store.StoreMetrics;
import java.net.URI;

/**
 * Opens an {@link ObjectStore} from a store URL:
 *
 * <ul>
 *   <li>{@code file:///abs/dir} — {@link DirectoryObjectStore} rooted at {@code /abs/dir} (created if missing);
 *   <li>{@code s3://bucket/prefix?endpoint=http://host:port&region=us-east-1&path-style=true} — {@link
 *       S3ObjectStore}; credentials from the query ({@code access-key}, {@code secret-key}), else the AWS default
 *       chain (env {@code AWS_ACCESS_KEY_ID}/{@code AWS_SECRET_ACCESS_KEY}, profile, instance role).
 * </ul>
 *
 * Bad URLs throw {@link IllegalArgumentException} with a one-line message naming the fix. After opening, the store
 * probes whether conditional writes are honoured and logs a warning when they are not.
 */
public final class ObjectStores {
  private ObjectStores() {}

  public static ObjectStore open(URI url, StoreMetrics metrics) throws StoreException {
    throw new UnsupportedOperationException("not yet");
  }
}
