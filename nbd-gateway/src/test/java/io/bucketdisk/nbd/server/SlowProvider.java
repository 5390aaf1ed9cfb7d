package io.bucketdisk.nbd.server;

import io.bucketdisk.nbd.export.ForwardingExportProvider;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ExportProvider;
import io.bucketdisk.nbd.export.ForwardingExport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/** Wraps a provider so reads at one offset take 300 ms, and records how many reads ran at once. */
final class SlowProvider extends ForwardingExportProvider {
  private final long slowOffset;
  private final AtomicInteger running = new AtomicInteger();
  private final AtomicInteger max = new AtomicInteger();
  private final java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);

  SlowProvider(ExportProvider delegate, long slowOffset) {
    super(delegate);
    this.slowOffset = slowOffset;
  }

  /** Lets the read at the slow offset finish; until then it blocks (at most 30 s). */
  void release() {
    gate.countDown();
  }

  int maxConcurrent() {
    return max.get();
  }

  /** Reads running right now. */
  int running() {
    return running.get();
  }

  @Override
  public Optional<Export> open(String name) throws IOException {
    return delegate().open(name).map(e -> new ForwardingExport(e) {
      @Override
      public void read(long offset, ByteBuffer dst, int flags) throws IOException {
        max.accumulateAndGet(running.incrementAndGet(), Math::max);
        try {
          if (offset == slowOffset) {
            if (!gate.await(30, java.util.concurrent.TimeUnit.SECONDS)) {
              throw new IOException("the slow read was never released");
            }
          }
          super.read(offset, dst, flags);
        } catch (InterruptedException ex) {
          throw new IOException(ex);
        } finally {
          running.decrementAndGet();
        }
      }
    });
  }
}
