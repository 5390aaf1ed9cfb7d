package io.bucketdisk.engine.volume;

import io.bucketdisk.engine.Volume;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One user's hold on an open {@link Volume} (for NBD: one connection). Closing the last handle of a volume flushes and
 * closes it. Thread safe; {@link #close} is idempotent.
 */
public final class VolumeHandle implements AutoCloseable {
  private final Volume volume;
  private final Runnable release;
  private final AtomicBoolean closed = new AtomicBoolean();

  VolumeHandle(Volume volume, Runnable release) {
    this.volume = volume;
    this.release = release;
  }

  /** The shared volume; its verbs keep failing with {@code CLOSED} once it closed. */
  public Volume volume() {
    return volume;
  }

  /** True once this handle was closed (the volume may still be open through other handles). */
  public boolean isClosed() {
    return closed.get();
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      release.run();
    }
  }
}
