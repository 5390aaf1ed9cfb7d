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
 * write-back cache, {@code ro} a read-only snapshot ({@link StoreExports}).
 */
class TransmissionConformanceOnStoreIT extends TransmissionConformanceIT {
  @BeforeAll
  static void start() throws Exception {
    server = new TestServer(StoreExports.create(64L << 20), ServerOptions.defaults());
  }

  /** The volume answers per chunk (1 MiB here): the written chunk is data, dirty and in the volume's own layer. */
  @Override
  int[] extentsAroundTheWrite(int id) {
    return switch (id) {
      case 1 -> new int[] {65536, 3, 131072, 0};
      case 2, 3 -> new int[] {65536, 0, 131072, 1};
      default -> throw new AssertionError("context id " + id);
    };
  }

  /** Read back through {@link DurableImage}: the bucket alone, as a gateway that died now would leave it. */
  @Override
  Optional<ByteBuffer> durable(long offset, int length) throws IOException {
    byte[] image = DurableImage.read(((StoreExports) server.provider).url(), "demo");
    return Optional.of(ByteBuffer.wrap(image, Math.toIntExact(offset), length).slice());
  }

  @Override
  int reqOneLength() {
    return (1 << 20) - 4096;
  }
}
