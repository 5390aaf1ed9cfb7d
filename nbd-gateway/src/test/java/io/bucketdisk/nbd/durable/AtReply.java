package io.bucketdisk.nbd.durable;

import io.bucketdisk.nbd.export.ForwardingExportProvider;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ExportProvider;
import io.bucketdisk.nbd.export.ForwardingExport;
import io.bucketdisk.nbd.wire.NbdConstants;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * An {@link ExportProvider} wrapper that looks at the store at the moment a durability promise is made: right after
 * a FLUSH, or a WRITE with FUA, returned success and before its reply leaves the server, it takes {@link
 * DurableImage the durable image} and records it. A test then checks each promise against the image of its own
 * moment, so a later flush (the client's on exit, the volume's on close) cannot cover for one that lied.
 *
 * <p>It also takes the image when the request arrives, so a test can show the store lacked the data then (nothing
 * else, such as a background upload, had already stored it).
 *
 * <p>It also counts the handles open at once, so a multi-connection client that fell back to one connection is
 * seen.
 */
public final class AtReply extends ForwardingExportProvider {

  /**
   * A promise, the store as it was when the request arrived ({@code before}) and when the promise was made ({@code
   * image}). A test compares the two to show the request had something to store, so its check is not vacuous.
   */
  public record Promise(String command, long offset, int length, byte[] before, byte[] image) {}

  private final Supplier<byte[]> durableImage;
  private final List<Promise> promises = new CopyOnWriteArrayList<>();
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicInteger mostOpen = new AtomicInteger();

  public AtReply(ExportProvider delegate, Supplier<byte[]> durableImage) {
    super(delegate);
    this.durableImage = durableImage;
  }

  /** The FLUSH and FUA-write promises made so far, in the order their replies were about to go out. */
  public List<Promise> promises() {
    return List.copyOf(promises);
  }

  /** The first FLUSH that returned success; fails when there was none. */
  public Promise firstFlush() {
    return promises.stream().filter(p -> p.command().equals("flush")).findFirst()
        .orElseThrow(() -> new AssertionError("no FLUSH reached the server: " + promises));
  }

  /** The most handles that were open at the same time. */
  public int mostOpenAtOnce() {
    return mostOpen.get();
  }

  @Override
  public Optional<Export> open(String name) throws IOException {
    return delegate().open(name).map(Watched::new);
  }

  private byte[] imageNow() {
    return durableImage.get();
  }

  private final class Watched extends ForwardingExport {
    private final AtomicInteger closed = new AtomicInteger();

    Watched(Export delegate) {
      super(delegate);
      mostOpen.accumulateAndGet(open.incrementAndGet(), Math::max);
    }

    @Override
    public void write(long offset, ByteBuffer src, int flags) throws IOException {
      int length = src.remaining();
      if ((flags & NbdConstants.CMD_FLAG_FUA) == 0) {
        super.write(offset, src, flags);
        return;
      }
      byte[] before = imageNow();
      super.write(offset, src, flags);
      promises.add(new Promise("fua-write", offset, length, before, imageNow()));
    }

    @Override
    public void flush(int flags) throws IOException {
      byte[] before = imageNow();
      super.flush(flags);
      promises.add(new Promise("flush", 0, 0, before, imageNow()));
    }

    @Override
    public void close() throws IOException {
      if (closed.getAndIncrement() == 0) {
        open.decrementAndGet();
      }
      super.close();
    }
  }

  /** Wraps {@link DurableImage#read} for use as the image supplier. */
  public static Supplier<byte[]> bucket(java.net.URI storeUrl, String volumeId) {
    return () -> {
      try {
        return DurableImage.read(storeUrl, volumeId);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    };
  }
}
