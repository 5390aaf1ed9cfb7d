package io.bucketdisk.store;

import io.bucketdisk.store.object.ObjectStore;
import io.bucketdisk.store.object.ObjectStores;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Log adoption against s3proxy over HTTP, one prefix per test. */
class AdoptedLogIT extends AdoptedLogContract {
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();
  private static final AtomicInteger PREFIX = new AtomicInteger();

  @Override
  ObjectStore newStore() throws Exception {
    return ObjectStores.open(S3.storeUrl("adopt" + PREFIX.incrementAndGet() + "/"), StoreMetrics.NONE);
  }
}
