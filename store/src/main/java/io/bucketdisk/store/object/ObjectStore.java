package io.bucketdisk.store.object;

import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A flat key space of immutable-per-version objects: S3 or a local directory.
 *
 * <p><b>Contract.</b> Thread safe. Keys are relative to the store's prefix (the prefix of the store URL is applied
 * inside). Reads after an acknowledged write see that write (S3 is strongly consistent; the directory store renames
 * atomically). Buffers belong to the caller and are not retained after a call returns.
 *
 * <p><b>Conditional writes.</b> {@link #put(String, ByteBuffer, WriteCondition)} with {@link WriteCondition#ifMatch}
 * or {@link WriteCondition#ifNoneMatch()} is atomic: of two concurrent conditional writers at most one wins, the
 * other gets an {@link ObjectStoreException} with {@link ObjectStoreException#isPrecondition()} true (also when
 * {@code If-Match} names a key that does not exist). Some S3-compatible servers ignore these headers; {@link
 * #conditionalWritesHonoured()} says whether the start-up probe saw them honoured.
 *
 * <p><b>Errors.</b> Every method retries transient failures internally ({@link RetryPolicy}), then throws {@link
 * ObjectStoreException}. A missing key is not an error for {@link #get}, {@link #head}, {@link #read} and the
 * deletes.
 */
public interface ObjectStore extends AutoCloseable {

  /** The whole object with its ETag, or empty when the key does not exist. For small objects (manifests). */
  Optional<ObjectData> get(String key) throws ObjectStoreException;

  /**
   * Reads {@code dst.remaining()} bytes of the object starting at {@code offset} into {@code dst} (a ranged GET).
   * Returns the number of bytes read (less than requested only when the object ends first), or -1 when the key
   * does not exist. {@code dst}'s position advances by the bytes read.
   */
  int read(String key, long offset, ByteBuffer dst) throws ObjectStoreException;

  /**
   * A scattering {@link #read}: one ranged GET of the bytes {@code dsts} have room for together, starting at {@code
   * offset}, filling each buffer in turn. Returns the bytes read (less only when the object ends first), or -1 when
   * the key does not exist. This default reads through one temporary buffer; the stores of this package scatter
   * without one (how a chunk object's interleaved checksums are read with no copy of the chunk).
   */
  default int read(String key, long offset, ByteBuffer[] dsts) throws ObjectStoreException {
    ByteBuffer all = ByteBuffer.allocate(Math.toIntExact(ByteBuffers.remaining(dsts)));
    int n = read(key, offset, all);
    if (n > 0) {
      ByteBuffers.scatter(all.flip(), dsts);
    }
    return n;
  }

  /** Stores {@code data} (its remaining bytes; its position is not moved) unconditionally; returns the new ETag. */
  default String put(String key, ByteBuffer data) throws ObjectStoreException {
    return put(key, data, WriteCondition.none());
  }

  /**
   * Stores {@code data} if {@code condition} holds; returns the new ETag. Throws with {@link
   * ObjectStoreException#isPrecondition()} when it does not hold.
   */
  String put(String key, ByteBuffer data, WriteCondition condition) throws ObjectStoreException;

  /**
   * A gathering {@link #put(String, ByteBuffer, WriteCondition)}: stores the remaining bytes of {@code data}, one
   * buffer after the other, as one object (positions are not moved). This default copies them into one buffer first;
   * the stores of this package send them as they are.
   */
  default String put(String key, ByteBuffer[] data, WriteCondition condition) throws ObjectStoreException {
    return put(key, ByteBuffers.gather(data), condition);
  }

  /** Size and ETag of the object, or empty when it does not exist. */
  Optional<ObjectInfo> head(String key) throws ObjectStoreException;

  /** Deletes the object; nothing happens when it does not exist. */
  void delete(String key) throws ObjectStoreException;

  /**
   * Deletes all the given keys, in batches of up to 1000 per request (S3 DeleteObjects). Missing keys are fine.
   * Throws if any key could not be deleted, naming how many.
   */
  void delete(Collection<String> keys) throws ObjectStoreException;

  /**
   * One page of the keys starting with {@code prefix}, in ascending UTF-8 binary order (the S3 order), at most
   * {@code maxKeys} (1..1000) of them. Pass {@link ListPage#nextToken()} of the previous page as {@code token}
   * to continue; null starts at the beginning.
   */
  ListPage list(String prefix, @Nullable String token, int maxKeys) throws ObjectStoreException;

  /**
   * Whether the start-up probe saw conditional writes honoured (a second {@code If-None-Match: *} PUT on the same
   * key refused). When false, fencing between two writers is not guaranteed; a warning was logged at open.
   */
  boolean conditionalWritesHonoured();

  /**
   * Whether the start-up probe saw concurrent conditional writers serialized: of several {@code If-Match} PUTs
   * racing on one ETag, exactly one won. False when they were ignored or when more than one won (a server that
   * checks the condition and then writes without a lock); then a lease race between two gateways is not safe.
   */
  default boolean conditionalWritesAtomic() {
    return conditionalWritesHonoured();
  }

  /** A description for logs and errors, without secrets: {@code s3://bucket/prefix at http://host:port}. */
  String describe();

  @Override
  void close();
}
