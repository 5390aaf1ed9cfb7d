package io.bucketdisk.engine.cache;

/**
 * When one volume last served a request (read, write, zero, flush or cache), to within {@link #GRAIN_NANOS}: what
 * tells its background work that the volume is quiet. A request writes the shared field at most once per grain, so
 * 32 connections reading at 50k IOPS mostly only read it.
 *
 * <p>Thread safe.
 */
final class RequestClock {
  static final long GRAIN_NANOS = 1_000_000L;

  private volatile long lastNanos = System.nanoTime();

  /** A request arrived. */
  void served() {
    long now = System.nanoTime();
    if (now - lastNanos > GRAIN_NANOS) {
      lastNanos = now;
    }
  }

  /** The {@link System#nanoTime} of the last request recorded (or of the open); a later request changes it. */
  long lastNanos() {
    return lastNanos;
  }

  /** How long no request arrived. */
  long quietNanos() {
    return System.nanoTime() - lastNanos;
  }
}
