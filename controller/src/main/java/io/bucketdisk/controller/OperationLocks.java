package io.bucketdisk.controller;

import java.util.concurrent.ConcurrentHashMap;

/**
 * One operation at a time per key (a volume id, a volume name, a snapshot name). A second caller does not wait: it
 * gets {@link VolumeError.Reason#PENDING} (ABORTED, "operation pending"), and the CO retries with backoff, as spec.md
 * §Concurrency allows. Only guards this process; the store's conditional writes guard across processes. Thread safe.
 */
final class OperationLocks {

  private final ConcurrentHashMap<String, Thread> held = new ConcurrentHashMap<>();

  /** A held lock; close to release. */
  interface Held extends AutoCloseable {
    @Override
    void close();
  }

  Held acquire(String key) {
    Thread me = Thread.currentThread();
    if (held.putIfAbsent(key, me) != null) {
      throw new VolumeError(VolumeError.Reason.PENDING, "an operation on " + key
          + " is already pending; retry later");
    }
    return () -> held.remove(key, me);
  }

  /** Acquires two keys (e.g. the name and the source), releasing the first when the second is busy. */
  Held acquire(String first, String second) {
    if (first.equals(second)) {
      return acquire(first);
    }
    Held a = acquire(first);
    try {
      Held b = acquire(second);
      return () -> {
        b.close();
        a.close();
      };
    } catch (RuntimeException e) {
      a.close();
      throw e;
    }
  }
}
