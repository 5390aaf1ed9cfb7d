package io.bucketdisk.nbd.metrics;

import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ForwardingExport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * One handle, timed: every verb records its latency under its command and, when it throws, one error by the NBD
 * error the client will see. Payload bytes count only when the verb succeeds. {@link #close} closes the delegate
 * first, then tells the provider, so the volume's meters outlive its final flush.
 */
final class MeteredExport extends ForwardingExport {

  private final VolumeMeters meters;
  private final Runnable onClose;
  private boolean closed;

  MeteredExport(Export delegate, VolumeMeters meters, Runnable onClose) {
    super(delegate);
    this.meters = meters;
    this.onClose = onClose;
  }

  private void done(Command c, long start) {
    meters.timer(c).record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
  }

  @Override
  public void read(long offset, ByteBuffer dst, int flags) throws IOException {
    long start = System.nanoTime();
    int n = dst.remaining();
    try {
      delegate().read(offset, dst, flags);
      meters.read(n);
    } catch (IOException | RuntimeException e) {
      meters.error(Command.READ, e);
      throw e;
    } finally {
      done(Command.READ, start);
    }
  }

  /**
   * Timed as a READ when it reads. One not held, or failed, leaves no trace here: the server then calls {@link
   * #read}, which counts it (and its error).
   */
  @Override
  public boolean readIfHeld(long offset, ByteBuffer dst, int flags) throws IOException {
    long start = System.nanoTime();
    int n = dst.remaining();
    if (!delegate().readIfHeld(offset, dst, flags)) {
      return false;
    }
    meters.read(n);
    done(Command.READ, start);
    return true;
  }

  @Override
  public void write(long offset, ByteBuffer src, int flags) throws IOException {
    long start = System.nanoTime();
    int n = src.remaining();
    try {
      delegate().write(offset, src, flags);
      meters.written(n);
    } catch (IOException | RuntimeException e) {
      meters.error(Command.WRITE, e);
      throw e;
    } finally {
      done(Command.WRITE, start);
    }
  }

  @Override
  public void flush(int flags) throws IOException {
    long start = System.nanoTime();
    try {
      delegate().flush(flags);
    } catch (IOException | RuntimeException e) {
      meters.error(Command.FLUSH, e);
      throw e;
    } finally {
      done(Command.FLUSH, start);
    }
  }

  @Override
  public void trim(long offset, long length, int flags) throws IOException {
    long start = System.nanoTime();
    try {
      delegate().trim(offset, length, flags);
    } catch (IOException | RuntimeException e) {
      meters.error(Command.TRIM, e);
      throw e;
    } finally {
      done(Command.TRIM, start);
    }
  }

  @Override
  public void zero(long offset, long length, int flags) throws IOException {
    long start = System.nanoTime();
    try {
      delegate().zero(offset, length, flags);
    } catch (IOException | RuntimeException e) {
      meters.error(Command.WRITE_ZEROES, e);
      throw e;
    } finally {
      done(Command.WRITE_ZEROES, start);
    }
  }

  @Override
  public void cache(long offset, long length, int flags) throws IOException {
    long start = System.nanoTime();
    try {
      delegate().cache(offset, length, flags);
    } catch (IOException | RuntimeException e) {
      meters.error(Command.CACHE, e);
      throw e;
    } finally {
      done(Command.CACHE, start);
    }
  }

  @Override
  public void blockStatus(String context, long offset, long length, int flags, ExtentSink sink)
      throws IOException {
    long start = System.nanoTime();
    try {
      delegate().blockStatus(context, offset, length, flags, sink);
    } catch (IOException | RuntimeException e) {
      meters.error(Command.BLOCK_STATUS, e);
      throw e;
    } finally {
      done(Command.BLOCK_STATUS, start);
    }
  }

  @Override
  public void close() throws IOException {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    try {
      delegate().close();
    } finally {
      onClose.run();
    }
  }
}
