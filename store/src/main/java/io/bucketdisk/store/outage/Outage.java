package io.bucketdisk.store.outage;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * One thing that may fail repeatedly (the bucket, one volume's uploads), named by its subject ({@code "store
 * s3://b/p at http://h:9000"}, {@code "volume v1"}). Callers report each failure with its kind (a short stable
 * string such as {@code "PUT HTTP 503 SlowDown"} or {@code "upload"}) and each success.
 *
 * <p>Logging: the first failure of a kind in an outage is logged at once (WARN, its message); later ones of the same
 * kind are counted and logged at most once per {@code interval} per kind, as {@code "<subject>: <kind> failed 37
 * more times in 5.0 s (failing since 02:50:01Z, 12.3 s ago); last: <message>"}; the first success after failures
 * logs one INFO line with the outage's length and failure count. {@link #since()} tells health checks since when the
 * subject has been failing. Thread safe; {@link #succeeded()} costs one volatile read while there is no outage.
 */
public final class Outage {
  /** The default: at most one line per kind every 5 s. */
  public static final Duration INTERVAL = Duration.ofSeconds(5);

  private final Logger log;
  private final String subject;
  private final long intervalNanos;
  private final LongSupplier nanos;
  private final Supplier<Instant> wall;
  private final Map<String, Kind> kinds = new LinkedHashMap<>();
  private volatile boolean failing;
  private @Nullable Instant since;
  private long startNanos;
  private long failures;

  private static final class Kind {
    long lastLogNanos;
    long suppressed;
    String lastMessage = "";
  }

  public Outage(Logger log, String subject) {
    this(log, subject, INTERVAL, System::nanoTime, Instant::now);
  }

  /** For tests: a chosen interval and clocks. */
  public Outage(Logger log, String subject, Duration interval, LongSupplier nanos, Supplier<Instant> wall) {
    this.log = log;
    this.subject = subject;
    this.intervalNanos = interval.toNanos();
    this.nanos = nanos;
    this.wall = wall;
  }

  /** One failure of {@code kind}; {@code message} says what happened (it is logged, so no secrets). */
  public void failed(String kind, String message) {
    String line = null;
    synchronized (this) {
      long now = nanos.getAsLong();
      if (!failing) {
        failing = true;
        since = wall.get();
        startNanos = now;
        failures = 0;
      }
      failures++;
      Kind k = kinds.get(kind);
      if (k == null) {
        k = new Kind();
        k.lastLogNanos = now;
        kinds.put(kind, k);
        line = subject + ": " + message;
      } else {
        k.suppressed++;
        k.lastMessage = message;
        if (now - k.lastLogNanos >= intervalNanos) {
          line = subject + ": " + kind + " failed " + k.suppressed + " more time" + (k.suppressed == 1 ? "" : "s")
              + " in " + seconds(now - k.lastLogNanos) + " (failing since "
              + since.truncatedTo(ChronoUnit.SECONDS) + ", " + seconds(now - startNanos) + " ago); last: " + message;
          k.lastLogNanos = now;
          k.suppressed = 0;
        }
      }
    }
    if (line != null) {
      log.warn("{}", line);
    }
  }

  /** A success: ends the outage, if there was one, with one line. */
  public void succeeded() {
    if (!failing) {
      return;
    }
    String line;
    synchronized (this) {
      if (!failing) {
        return;
      }
      line = subject + ": works again after " + seconds(nanos.getAsLong() - startNanos) + " (" + failures
          + " failure" + (failures == 1 ? "" : "s") + " since " + since.truncatedTo(ChronoUnit.SECONDS) + ")";
      failing = false;
      since = null;
      kinds.clear();
    }
    log.info("{}", line);
  }

  /** When the current outage began, or empty when the last report was a success (or there was none). */
  public synchronized Optional<Instant> since() {
    return Optional.ofNullable(since);
  }

  /** Failures in the current outage (0 when there is none). */
  public synchronized long failures() {
    return failing ? failures : 0;
  }

  /** The subject, as given. */
  public String subject() {
    return subject;
  }

  private static String seconds(long nanos) {
    return String.format(java.util.Locale.ROOT, "%.1f s", nanos / 1e9);
  }
}
