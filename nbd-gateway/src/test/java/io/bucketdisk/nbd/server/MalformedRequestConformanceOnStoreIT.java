package io.bucketdisk.nbd.server;

import io.bucketdisk.nbd.StoreExports;
import io.bucketdisk.nbd.TestServer;
import org.junit.jupiter.api.BeforeAll;

/**
 * {@link MalformedRequestConformanceIT} against the export users get: {@code demo} is a volume in a directory store behind the
 * write-back cache, {@code ro} a read-only snapshot ({@link StoreExports}).
 */
class MalformedRequestConformanceOnStoreIT extends MalformedRequestConformanceIT {
  @BeforeAll
  static void start() throws Exception {
    server = new TestServer(StoreExports.create(64L << 20), ServerOptions.defaults());
  }
}
