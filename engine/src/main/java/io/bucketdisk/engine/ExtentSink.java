package io.bucketdisk.engine;

/** Receives the extents of {@link Volume#blockStatus} in order. */
@FunctionalInterface
public interface ExtentSink {
  /** Accepts one extent of {@code length} bytes with the map's {@code flags}; false when no more are wanted. */
  boolean extent(long length, int flags);
}
