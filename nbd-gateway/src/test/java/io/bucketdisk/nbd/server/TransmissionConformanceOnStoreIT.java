package io.bucketdisk.nbd.server;

import io.bucketdisk.nbd.StoreExports;
import io.bucketdisk.nbd.TestServer;
import io.bucketdisk.nbd.durable.DurableImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;

/**
 * {@link TransmissionConformanceIT} against the export users get: {@code demo} is a volume in a directory store behind the
 * write-back cache, {@code ro} a read-only snapshot ({@link StoreExports}). Its block status is as fine as the memory
 * export's around a write into a chunk with no object: the written range is data, dirty and this volume's.
 */
class TransmissionConformanceOnStoreIT extends TransmissionConformanceIT {
  @BeforeAll
  static void start() throws Exception {
    server = new TestServer(StoreExports.create(64L << 20), ServerOptions.defaults());
  }

  /** Read back through {@link DurableImage}: the bucket alone, as a gateway that died now would leave it. */
  @Override
  Optional<ByteBuffer> durable(long offset, int length) throws IOException {
    byte[] image = DurableImage.read(((StoreExports) server.provider).url(), "demo");
    return Optional.of(ByteBuffer.wrap(image, Math.toIntExact(offset), length).slice());
  }
}
