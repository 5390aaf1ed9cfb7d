package io.bucketdisk.store;

/**
 * Counters the store reports, for the gateway and the controller to export as metrics (Micrometer lives there, not
 * here). Called on the request's own thread, so implementations must be cheap and thread safe; the defaults do
 * nothing.
 */
public interface StoreMetrics {

  /** The object-level request types. */
  enum Op {
    GET,
    PUT,
    HEAD,
    DELETE,
    LIST
  }

  /** A no-op listener. */
  StoreMetrics NONE = new StoreMetrics() {};

  /** One request attempt finished, successfully or not, after {@code nanos}. */
  default void request(Op op, long nanos) {}

  /** One attempt failed and will be retried. */
  default void retry(Op op) {}

  /** A call failed for good (after retries), with the failure kind. */
  default void failure(Op op, StoreException.Kind kind) {}

  /** Bytes sent to the store (PUT bodies). */
  default void bytesUp(long bytes) {}

  /** Bytes received from the store (GET bodies). */
  default void bytesDown(long bytes) {}

  /** A chunk object's bytes did not match their CRC32C: the read failed (EIO), nothing wrong was served. */
  default void checksumMismatch() {}

  /**
   * Called once when an object store opens, with the tracker of its outages (every call that failed for good, every
   * success), for meters and health checks that say since when the store fails.
   */
  default void outage(io.bucketdisk.store.outage.Outage outage) {}
}
