package io.bucketdisk.store.object;

import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A body that hands out all but its last byte at once, then waits until every writer of a race has reached its own
 * last byte (or {@code patience} ms have passed), and {@link #SETTLE_MILLIS} more, before the last. The probe's
 * racing writers thus all have their requests under way before any can finish: a server that checks {@code If-Match}
 * when a request starts and stores the body without a lock lets more than one win (s3proxy: all 8 in 12 of 12 probes
 * of a store module run), while an atomic server still lets exactly one win. Not thread safe; one per request attempt.
 */
final class HeldTailInputStream extends InputStream {
  /**
   * Once all writers are at their last byte, how long they wait more, so that a server busy on 2 cores has read every
   * request's head: without it s3proxy still let only 2-6 of 8 win now and then.
   */
  static final long SETTLE_MILLIS = 100;

  private final InputStream body;
  private final CountDownLatch atTail;
  private final long patienceMillis;
  private long remaining;
  private boolean held;

  HeldTailInputStream(InputStream body, long length, CountDownLatch atTail, long patienceMillis) {
    this.body = body;
    this.remaining = length;
    this.atTail = atTail;
    this.patienceMillis = patienceMillis;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    return read(one, 0, 1) == -1 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    if (remaining == 1 && !held) {
      held = true;
      atTail.countDown();
      try {
        if (atTail.await(patienceMillis, TimeUnit.MILLISECONDS)) {
          Thread.sleep(SETTLE_MILLIS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while holding a racing probe body", e);
      }
    }
    int n = body.read(b, off, (int) Math.min(len, remaining > 1 ? remaining - 1 : remaining));
    if (n > 0) {
      remaining -= n;
    }
    return n;
  }

  @Override
  public int available() {
    return (int) Math.min(Integer.MAX_VALUE, remaining > 1 && !held ? remaining - 1 : remaining);
  }
}
