package io.bucketdisk.store;

import io.bucketdisk.store.object.ObjectStore;
import io.bucketdisk.store.object.ObjectStores;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Merged log segments against s3proxy over HTTP, one prefix per test. */
class MergedLogIT extends MergedLogContract {
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();
  private static final AtomicInteger PREFIX = new AtomicInteger();

  @Override
  ObjectStore newStore() throws Exception {
    return ObjectStores.open(S3.storeUrl("merge" + PREFIX.incrementAndGet() + "/"), StoreMetrics.NONE);
  }
}
