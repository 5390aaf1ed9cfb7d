package io.bucketdisk.nbd.server;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bounds on one connection's requests in flight: at most {@link ServerOptions#maxInFlight} requests and
 * {@link ServerOptions#maxInFlightBytes} READ or WRITE payload bytes. The reader takes a request's permits before
 * it reads the payload, and waits for them, so a client cannot make the server buffer without limit; they come
 * back once the request is answered. With every permit back, every request read so far has been answered.
 *
 * <p>Thread safe: permits are taken by the thread holding the reading role and given back by whichever thread
 * served the request. Throws only {@link InterruptedException}, from {@link #acquire}.
 */
final class InFlightRequests {
  private static final Logger log = LoggerFactory.getLogger(InFlightRequests.class);

  private final long connection;
  private final int maxRequests;
  private final Semaphore slots;
  private final Semaphore bytes;

  /** @param connection the connection's id, for the log */
  InFlightRequests(long connection, ServerOptions options) {
    this.connection = connection;
    this.maxRequests = options.maxInFlight();
    this.slots = new Semaphore(options.maxInFlight());
    this.bytes = new Semaphore(options.maxInFlightBytes());
  }

  /** Waits for one request's permits: a slot, then {@code payloadBytes} of payload. */
  void acquire(int payloadBytes) throws InterruptedException {
    slots.acquire();
    bytes.acquire(payloadBytes);
  }

  /** Gives back what {@link #acquire} took. */
  void release(int payloadBytes) {
    bytes.release(payloadBytes);
    slots.release();
  }

  /**
   * Gives back a served request's payload bytes but not its slot: its reply is held ({@link HeldReplies}), and the
   * slot comes back with {@link #releaseSlots} once it is sent.
   */
  void releaseBytes(int payloadBytes) {
    bytes.release(payloadBytes);
  }

  /** Gives back {@code n} slots whose bytes {@link #releaseBytes} gave back. */
  void releaseSlots(int n) {
    slots.release(n);
  }

  /** The most requests in flight at once. */
  int maxRequests() {
    return maxRequests;
  }

  /**
   * Waits up to {@code millis} until no request is in flight, and logs when some still are; an interrupt ends the
   * wait and stays set.
   */
  void awaitIdle(long millis) {
    try {
      if (slots.tryAcquire(maxRequests, millis, TimeUnit.MILLISECONDS)) {
        slots.release(maxRequests);
      } else {
        log.warn("connection {}: requests still in flight after {} ms", connection, millis);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
