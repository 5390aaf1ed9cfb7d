package io.bucketdisk.store.object;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.StoreMetrics.Op;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.DeleteObjectsResponse;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * The deletes of one {@link S3ObjectStore}: a DELETE per key, or DeleteObjects batches of up to 1000 keys unless the
 * probe found them refused ({@link #batchDeletes}). Keys are the store's (without its prefix); a missing key is not
 * an error. Each request goes through the store's {@link Retrier}, so what escapes is an {@link ObjectStoreException};
 * a batch that left keys behind says how many and names the first. Thread safe.
 */
final class S3Deletes {
  private static final int MAX_DELETE_BATCH = 1000;

  private final S3Connection connection;
  private final Retrier retrier;
  private final S3ObjectStore.Config config;
  private final String store;
  private volatile boolean batchDeletes = true;
  private volatile int deleteBatch = MAX_DELETE_BATCH;

  /** {@code store} names the store in errors ({@link ObjectStore#describe()}). */
  S3Deletes(S3Connection connection, Retrier retrier, S3ObjectStore.Config config, String store) {
    this.connection = connection;
    this.retrier = retrier;
    this.config = config;
    this.store = store;
  }

  void batchDeletes(boolean on) {
    batchDeletes = on;
  }

  void delete(String key) throws ObjectStoreException {
    retrier.call(Op.DELETE, key, () -> {
      try {
        connection.client().deleteObject(b -> b.bucket(config.bucket()).key(config.prefix() + key));
      } catch (S3Exception e) {
        if (e.statusCode() != 404) {
          throw e;
        }
      }
      return null;
    });
  }

  void delete(Collection<String> keys) throws ObjectStoreException {
    if (!batchDeletes) {
      deleteEach(keys);
      return;
    }
    int max = deleteBatch;
    List<String> batch = new ArrayList<>(Math.min(keys.size(), max));
    for (String key : keys) {
      batch.add(key);
      if (batch.size() == max) {
        deleteBatch(batch);
        batch = new ArrayList<>(max);
      }
    }
    if (!batch.isEmpty()) {
      deleteBatch(batch);
    }
  }

  void deleteEach(Collection<String> keys) throws ObjectStoreException {
    for (String key : keys) {
      delete(key);
    }
  }

  /** One DeleteObjects request (retried) for up to 1000 keys. */
  void deleteBatch(List<String> keys) throws ObjectStoreException {
    List<ObjectIdentifier> batch = keys.stream()
        .map(k -> ObjectIdentifier.builder().key(config.prefix() + k).build()).toList();
    retrier.call(Op.DELETE, batch.size() + " keys", () -> {
      DeleteObjectsResponse r = connection.client().deleteObjects(b -> b.bucket(config.bucket())
          .delete(Delete.builder().objects(batch).quiet(true).build()));
      var errors = r.errors().stream().filter(e -> !"NoSuchKey".equals(e.code())).toList();
      if (!errors.isEmpty()) {
        var first = errors.getFirst();
        boolean transientError = "InternalError".equals(first.code()) || "SlowDown".equals(first.code())
            || "ServiceUnavailable".equals(first.code());
        String fix = S3Errors.fix(200, first.code());
        throw new ObjectStoreException(transientError ? Kind.TRANSIENT : Kind.PERMANENT, 200, first.code(),
            "DeleteObjects " + store + ": " + errors.size() + " of " + batch.size() + " keys not deleted, first "
                + first.key() + ": " + first.code() + " " + first.message() + (fix != null ? "; " + fix : ""), null);
      }
      return null;
    });
  }

  /** Lowers the DeleteObjects batch size (tests cross the batch boundary with few keys). */
  void deleteBatchSize(int size) {
    if (size < 1 || size > MAX_DELETE_BATCH) {
      throw new IllegalArgumentException("batch size must be 1..1000");
    }
    deleteBatch = size;
  }
}
