package io.bucketdisk.nbd.server;

import static io.bucketdisk.nbd.wire.NbdConstants.commandName;

import io.bucketdisk.nbd.server.RequestReader.Request;
import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The threads that read one connection's requests, in leader/follower turns (the thread that reads a request
 * serves it, as nbdkit's workers do). One member at a time holds the reading role. After reading a request it
 * passes the role to an idle member and executes the request itself, so a lone request (queue depth 1) costs no
 * thread wake-up between its read and its reply; the wake-up of the next reader happens while the request
 * runs. With no idle member (the others are busy serving) the request goes to a new virtual thread instead and
 * the holder keeps reading, so a slow request never holds up the requests pipelined behind it.
 *
 * <p>A small read whose bytes are in memory is answered by the holder at once ({@link Dispatcher#executeIfHeld}),
 * with no hand-off at all, while the client keeps it busy: when more is buffered, or when the read of this request
 * did not wait ({@link #WAITED_NANOS}). At queue depth 32 over a memory export that halved the server's CPU per 4
 * KiB read (18-26 to 10-14 us). A client at queue depth 1 keeps the hand-off: answered inline, its 4 KiB reads took
 * 99 us against the previous build's 86 (fio, memory export, one pass); with the hand-off kept, 61 against 72.
 *
 * <p>At most {@link #CREW} members: platform threads by default (a blocking socket read on a platform thread
 * wakes straight from the kernel, on a virtual one through the JDK's poller), virtual ones when {@link
 * ServerOptions#platformReaders()} is off. The reading state ({@link RequestReader}) is only touched by the role
 * holder; passing the role is a volatile write of {@link #reader}, which orders it.
 *
 * <p>Thread safe as used: {@link #start} once, then any thread may wait for the end. What ended the reading (an
 * I/O error, a protocol violation, a bug) is kept, not thrown: {@link #failure} gives the first one.
 */
final class ReaderCrew {
  private static final Logger log = LoggerFactory.getLogger(ReaderCrew.class);
  /** Members per connection: one reading, one serving inline; more would not help on a few cores. */
  private static final int CREW = 2;
  /**
   * A {@link RequestReader#next} that took longer than this waited for the client: it is answering our replies one
   * at a time (queue depth 1), and the request takes the hand-off path even when it is held.
   */
  private static final long WAITED_NANOS = 10_000;

  private final NbdConnection connection;
  private final RequestReader requests;
  private final Dispatcher dispatcher;
  private final HeldReplies held;
  private final boolean platformReaders;
  private int members;
  private volatile @Nullable Thread reader;
  private final AtomicReference<@Nullable Thread> idle = new AtomicReference<>();
  private volatile boolean ended;
  private final AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
  private final CountDownLatch done = new CountDownLatch(1);

  /**
   * @param connection names the members, and is closed when a reply cannot be written
   * @param platformReaders members are platform threads rather than virtual ones
   */
  ReaderCrew(NbdConnection connection, RequestReader requests, Dispatcher dispatcher, HeldReplies held,
      boolean platformReaders) {
    this.connection = connection;
    this.requests = requests;
    this.dispatcher = dispatcher;
    this.held = held;
    this.platformReaders = platformReaders;
  }

  void start() {
    Thread first = member();
    reader = first;
    first.start();
  }

  /** Waits until the reading has ended. */
  void awaitEnd() throws InterruptedException {
    done.await();
  }

  /** Waits up to {@code millis} until the reading has ended; false when it has not. */
  boolean awaitEnd(long millis) throws InterruptedException {
    return done.await(millis, TimeUnit.MILLISECONDS);
  }

  /** What ended the reading, once it has ended; null for a clean end (DISC, shutdown). */
  @Nullable Throwable failure() {
    return failure.get();
  }

  /** A new, unstarted member; only the role holder (or {@link #start}) creates members. */
  private Thread member() {
    members++;
    String name = "nbd-reader-" + connection.id() + "-" + members;
    return platformReaders
        ? Thread.ofPlatform().daemon().stackSize(256 << 10).name(name).unstarted(this::serve)
        : Thread.ofVirtual().name(name).unstarted(this::serve);
  }

  private void serve() {
    Thread me = Thread.currentThread();
    try {
      while (true) {
        while (reader != me) {
          if (ended) {
            return;
          }
          LockSupport.park(this);
        }
        if (!requests.headerBuffered()) {
          flushHeld(); // the next read may block
        }
        long start = System.nanoTime();
        Request r = requests.next();
        boolean waited = System.nanoTime() - start > WAITED_NANOS;
        if (r == null) { // after a DISC or a shutdown, which sent what was held
          finish(null);
          return;
        }
        if ((!waited || requests.buffered() > 0) && executeIfHeld(r)) {
          if (held.full()) {
            flushHeld();
          }
          continue;
        }
        flushHeld(); // what follows may block this thread
        // A client that already sent more is pipelining: keep reading and hand this request off, as a role
        // change costs a wake-up each time. Otherwise the next read would block: serve this one here.
        Thread follower = requests.buffered() > 0 ? null : idle.getAndSet(null);
        if (follower != null) {
          reader = follower;
          LockSupport.unpark(follower);
        } else if (members < CREW && requests.buffered() == 0) {
          follower = member();
          reader = follower;
          follower.start();
        } else {
          Thread.startVirtualThread(() -> execute(r));
          continue;
        }
        execute(r);
        // Publish idleness before looking at `ended` (in the loop), while finish() sets `ended` before
        // looking at `idle`: one of the two sees the other, so no member parks forever.
        idle.set(me);
      }
    } catch (Throwable e) {
      flushHeld();
      finish(e);
    }
  }

  /** Ends the crew: the first failure is kept, idle members leave, the connection thread is released. */
  private void finish(@Nullable Throwable e) {
    if (e != null) {
      failure.compareAndSet(null, e);
    }
    ended = true;
    Thread f = idle.getAndSet(null);
    if (f != null) {
      LockSupport.unpark(f);
    }
    done.countDown();
  }

  /**
   * Serves a read held in memory, its reply held in {@link #held} (which gives back the request's slot once sent);
   * false, nothing done, for any other request.
   */
  private boolean executeIfHeld(Request r) {
    if (!dispatcher.executeIfHeld(r.header(), held)) {
      return false;
    }
    requests.releaseHeld(r);
    return true;
  }

  /**
   * Serves one request and gives back its buffer and permits. An {@link Error} other than the assertions the
   * dispatcher answers (a stack overflow, a class that failed to link) leaves the request without a reply, so the
   * connection is closed: its client sees the end instead of waiting for that reply for ever.
   */
  private void execute(Request r) {
    try {
      dispatcher.execute(r.header(), r.payload());
    } catch (IOException e) {
      replyFailed("reply to " + commandName(r.header().type()), e);
    } catch (Error e) {
      NbdConnection.countBug();
      log.error("connection {}: {} failed, closing the connection", connection.id(),
          commandName(r.header().type()), e);
      connection.closeTransport();
    } finally {
      requests.release(r);
    }
  }

  /** Sends the replies held so far; a failure closes the connection, as for any reply. */
  private void flushHeld() {
    try {
      held.flush();
    } catch (IOException e) {
      replyFailed("held read replies", e);
    }
  }

  /** The reply could not be written: the socket is gone, and closing it ends the reading too. */
  private void replyFailed(String what, IOException e) {
    if (!connection.closing()) {
      log.debug("connection {}: {} failed: {}", connection.id(), what, e.toString());
    }
    connection.closeTransport();
  }
}
