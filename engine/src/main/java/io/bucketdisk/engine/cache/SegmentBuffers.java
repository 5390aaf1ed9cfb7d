package io.bucketdisk.engine.cache;

import java.util.ArrayDeque;
import java.util.concurrent.Semaphore;

/**
 * The gateway's log segment buffers: at most {@link #IN_FLIGHT} segments are built or stored at once, whatever the
 * number of volumes, each in an array of {@link #SIZE} bytes that is kept for the next segment. A segment of
 * {@link WriteLog#MAX_SEGMENT_BYTES} of data and its directory fits without growing; an array that a larger segment
 * grew is dropped when given back. Before, each volume's builder started at 64 KiB and doubled past 4 MiB for every
 * full segment, then dropped the array: a 4 KiB random write allocated 5.7 GB of segment copies in 30 s (JFR).
 *
 * <p>So the segment arrays, at most {@code IN_FLIGHT * SIZE} kept, are part of the launcher's fixed overhead.
 * Thread safe.
 */
final class SegmentBuffers {
  static final int IN_FLIGHT = 4;
  /** A full segment's data plus room for its directory (24 bytes per extent) and one capture past the limit. */
  static final int SIZE = WriteLog.MAX_SEGMENT_BYTES + (256 << 10);

  private final Semaphore slots = new Semaphore(IN_FLIGHT);
  private final ArrayDeque<byte[]> free = new ArrayDeque<>();

  /** Takes one of the {@link #IN_FLIGHT} slots (blocks while all are taken) and an array for its segment. */
  byte[] take() throws InterruptedException {
    slots.acquire();
    synchronized (free) {
      byte[] b = free.poll();
      if (b != null) {
        return b;
      }
    }
    return new byte[SIZE];
  }

  /** Gives back a slot with the array its segment ended in: kept if it is still of {@link #SIZE} bytes. */
  void give(byte[] array) {
    if (array.length == SIZE) {
      synchronized (free) {
        if (free.size() < IN_FLIGHT) {
          free.push(array);
        }
      }
    }
    slots.release();
  }

  /** Arrays kept for reuse now (tests). */
  int kept() {
    synchronized (free) {
      return free.size();
    }
  }
}
