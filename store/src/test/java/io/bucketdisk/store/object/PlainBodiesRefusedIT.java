package io.bucketdisk.store.object;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.testing.FaultyS3Proxy;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A server that takes uploads only in the SDK's default form (here s3proxy behind {@link FaultyS3Proxy} refusing
 * large plain bodies): the probe finds it, and every store opened on that server in the process, the first and the
 * ones that reuse the remembered probe result, uploads chunk-sized objects in the probed form.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PlainBodiesRefusedIT {
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();

  @Test
  void largeUploadsGoInTheProbedFormForEveryStoreOnTheServer() throws Exception {
    S3.startProxy();
    try (FaultyS3Proxy proxy = FaultyS3Proxy.start(S3.endpoint())) {
      proxy.refusePlainBodiesFrom(S3Connection.BULK_BYTES);
      byte[] chunk = new byte[S3Connection.BULK_BYTES * 2];
      new Random(3).nextBytes(chunk);
      for (String prefix : new String[] {"first/", "second/"}) {
        try (S3ObjectStore s = S3ProxyFixture.objectStore(proxy.endpoint(), S3.bucket(), prefix,
            new RetryPolicy(3, Duration.ofMillis(5), Duration.ofMillis(50), Duration.ofSeconds(20)),
            StoreMetrics.NONE)) {
          assertThat(s.compatibility().plainBodyRejection()).as(prefix).isEqualTo("InvalidRequest");
          assertThat(s.compatibility().gaps(true)).as(prefix).anyMatch(g -> g.contains("plain-body uploads refused"));
          int refusedBefore = proxy.faultsInjected();
          s.put("chunk", ByteBuffer.wrap(chunk));
          assertThat(proxy.faultsInjected()).as(prefix + ": no plain body sent").isEqualTo(refusedBefore);
          assertThat(s.get("chunk").orElseThrow().bytes()).isEqualTo(chunk);
        }
      }
    }
  }
}
