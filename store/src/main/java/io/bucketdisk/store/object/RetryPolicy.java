package io.bucketdisk.store.object;

import java.time.Duration;

/**
 * How transient object-store failures are retried: exponential backoff with full jitter (sleep a uniform random time
 * in {@code [0, min(maxDelay, baseDelay * 2^attempt))}), at most {@code maxAttempts} tries in all and never starting
 * a new try after {@code maxTotal} has passed since the first one.
 */
public record RetryPolicy(int maxAttempts, Duration baseDelay, Duration maxDelay, Duration maxTotal) {

  public RetryPolicy {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1");
    }
  }

  /** 8 attempts, 50 ms base, 5 s cap, 60 s in all: rides out a short S3 brown-out. */
  public static RetryPolicy defaults() {
    return new RetryPolicy(8, Duration.ofMillis(50), Duration.ofSeconds(5), Duration.ofSeconds(60));
  }

  /** One attempt, no retry. */
  public static RetryPolicy none() {
    return new RetryPolicy(1, Duration.ZERO, Duration.ZERO, Duration.ZERO);
  }
}
