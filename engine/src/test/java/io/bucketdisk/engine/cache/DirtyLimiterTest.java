package io.bucketdisk.engine.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class DirtyLimiterTest {

  @Test
  void writersWaitAtTheCapAndResumeOnRelease() throws Exception {
    DirtyLimiter l = new DirtyLimiter(100);
    AtomicInteger pressure = new AtomicInteger();
    l.addPressureListener(pressure::incrementAndGet);
    assertThat(l.acquire(60, 0)).isTrue();
    assertThat(l.acquire(60, TimeUnit.MILLISECONDS.toNanos(50))).isFalse();
    assertThat(pressure.get()).isPositive();
    AtomicBoolean got = new AtomicBoolean();
    CountDownLatch done = new CountDownLatch(1);
    Thread.ofVirtual().start(() -> {
      try {
        got.set(l.acquire(60, TimeUnit.SECONDS.toNanos(10)));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      done.countDown();
    });
    assertThat(done.await(100, TimeUnit.MILLISECONDS)).isFalse();
    l.release(60);
    assertThat(done.await(5, TimeUnit.SECONDS)).isTrue();
    assertThat(got).isTrue();
    assertThat(l.used()).isEqualTo(60);
    assertThat(l.maxUsed()).isEqualTo(60);
    assertThat(l.waits()).isEqualTo(2);
  }

  @Test
  void concurrentUseNeverExceedsTheLimitAndBalances() throws Exception {
    DirtyLimiter l = new DirtyLimiter(10);
    Thread[] ts = new Thread[16];
    for (int t = 0; t < ts.length; t++) {
      ts[t] = Thread.ofVirtual().start(() -> {
        for (int i = 0; i < 500; i++) {
          try {
            if (l.acquire(3, TimeUnit.SECONDS.toNanos(10))) {
              assertThat(l.used()).isLessThanOrEqualTo(10);
              l.release(3);
            }
          } catch (InterruptedException e) {
            return;
          }
        }
      });
    }
    for (Thread t : ts) {
      t.join();
    }
    assertThat(l.used()).isZero();
    assertThat(l.maxUsed()).isLessThanOrEqualTo(9);
  }
}
