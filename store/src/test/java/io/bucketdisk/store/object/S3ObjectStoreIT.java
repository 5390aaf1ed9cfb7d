package io.bucketdisk.store.object;

import io.bucketdisk.store.testing.S3ProxyFixture;
import io.bucketdisk.store.testing.S3Server;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The contract against s3proxy 4.1.0, which checks If-Match and then writes without a lock: concurrent conditional
 * writers can all win (measured: 8 of 8 with the same ETag), so its probe reports no fencing and the store opens
 * only with {@code accept-unfenced=true}. The catalog also serializes its own manifest updates in-process.
 */
class S3ObjectStoreIT extends S3ServerContract {
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();

  @Override
  S3Server server() {
    return S3;
  }
}
