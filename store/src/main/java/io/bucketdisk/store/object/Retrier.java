package io.bucketdisk.store.object;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.StoreMetrics.Op;
import io.bucketdisk.store.outage.Outage;
import java.util.concurrent.ThreadLocalRandom;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one object-store call with the {@link RetryPolicy}: transient failures are retried after a full-jitter
 * backoff, everything else (and the last transient failure) is thrown as an {@link ObjectStoreException}. The
 * classifier turns the implementation's exceptions into an {@link ObjectStoreException} with the right kind. Once an
 * {@link Outage} is attached, every call that fails for good (other than a lost precondition) and every success is
 * reported to it, which logs the failures throttled.
 */
final class Retrier {
  private static final Logger log = LoggerFactory.getLogger(Retrier.class);

  interface Call<T> {
    T run() throws Exception;
  }

  interface Classifier {
    ObjectStoreException classify(Op op, String key, Exception e);
  }

  private final RetryPolicy policy;
  private final StoreMetrics metrics;
  private final Classifier classifier;
  private volatile @Nullable Outage outage;

  Retrier(RetryPolicy policy, StoreMetrics metrics, Classifier classifier) {
    this.policy = policy;
    this.metrics = metrics;
    this.classifier = classifier;
  }

  /** From now on, reports failures and successes to {@code o}. */
  void outage(Outage o) {
    outage = o;
  }

  <T> T call(Op op, String key, Call<T> call) throws ObjectStoreException {
    long start = System.nanoTime();
    long deadline = start + policy.maxTotal().toNanos();
    for (int attempt = 1; ; attempt++) {
      long t0 = System.nanoTime();
      ObjectStoreException failure;
      try {
        T result = call.run();
        metrics.request(op, System.nanoTime() - t0);
        Outage o = outage;
        if (o != null) {
          o.succeeded();
        }
        return result;
      } catch (Exception e) {
        metrics.request(op, System.nanoTime() - t0);
        failure = e instanceof ObjectStoreException ose ? ose : classifier.classify(op, key, e);
      }
      long sleepNanos = backoffNanos(attempt);
      if (!failure.isTransient()
          || attempt >= policy.maxAttempts()
          || System.nanoTime() + sleepNanos - deadline > 0) {
        metrics.failure(op, failure.kind());
        report(op, failure);
        if (failure.isTransient() && attempt > 1) {
          throw new ObjectStoreException(Kind.TRANSIENT, failure.httpStatus(),
              failure.getMessage() + " (gave up after " + attempt + " attempts)", failure);
        }
        throw failure;
      }
      metrics.retry(op);
      log.debug("retrying {} {} after attempt {}: {}", op, key, attempt, failure.getMessage());
      try {
        Thread.sleep(sleepNanos / 1_000_000, (int) (sleepNanos % 1_000_000));
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        throw new ObjectStoreException(Kind.TRANSIENT, failure.httpStatus(),
            "interrupted while retrying " + op + " " + key, failure);
      }
    }
  }

  private void report(Op op, ObjectStoreException failure) {
    Outage o = outage;
    if (o == null || failure.isPrecondition()) {
      return;
    }
    String how = failure.httpStatus() > 0
        ? "HTTP " + failure.httpStatus() + (failure.errorCode() != null ? " " + failure.errorCode() : "")
        : "no answer";
    o.failed(op + " " + how, failure.getMessage());
  }

  private long backoffNanos(int attempt) {
    long base = policy.baseDelay().toNanos();
    long cap = policy.maxDelay().toNanos();
    if (base <= 0 || cap <= 0) {
      return 0;
    }
    long ceiling = attempt >= 30 ? cap : Math.min(cap, base << Math.min(attempt - 1, 30));
    return ThreadLocalRandom.current().nextLong(ceiling + 1);
  }
}
