package io.bucketdisk.store.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.ExecutableHttpRequest;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/** The embedded s3proxy answers a client that writes its body slowly as S3 does: after the whole body. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class S3ProxyFixtureIT {
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();

  /**
   * The SDK's default upload over http is aws-chunked with a checksum trailer, of which s3proxy needs only the data
   * chunks: none for an empty object. Here the client pauses 100 ms between the pieces of the body it writes (a cold
   * gateway JVM was that slow, seen in CacheKillDurabilityIT): the PUT must still get its answer rather than fail with
   * "Error writing request body to server".
   */
  @Test
  void aBodyWrittenSlowlyIsReadBeforeTheAnswer() {
    try (S3Client s3 = S3Client.builder()
        .region(Region.of(S3ProxyFixture.REGION))
        .endpointOverride(URI.create(S3.endpoint().toString()))
        .forcePathStyle(true)
        .credentialsProvider(StaticCredentialsProvider.create(
            AwsBasicCredentials.create(S3ProxyFixture.ACCESS_KEY, S3ProxyFixture.SECRET_KEY)))
        .httpClient(new SlowBodies(UrlConnectionHttpClient.create()))
        .overrideConfiguration(c -> c.retryStrategy(r -> r.maxAttempts(1)))
        .build()) {
      for (String data : new String[] {"", "seven b"}) {
        String key = "slow-body/" + data.length();
        s3.putObject(b -> b.bucket(S3.bucket()).key(key), RequestBody.fromString(data));
        assertThat(s3.getObjectAsBytes(b -> b.bucket(S3.bucket()).key(key)).asUtf8String()).isEqualTo(data);
      }
    }
  }

  /** An HTTP client that writes a request body with a pause before each read of it after the first. */
  private record SlowBodies(SdkHttpClient http) implements SdkHttpClient {
    @Override
    public ExecutableHttpRequest prepareRequest(HttpExecuteRequest request) {
      return http.prepareRequest(HttpExecuteRequest.builder()
          .request(request.httpRequest())
          .contentStreamProvider(request.contentStreamProvider().map(p -> (software.amazon.awssdk.http
              .ContentStreamProvider) () -> new Pausing(p.newStream())).orElse(null))
          .metricCollector(request.metricCollector().orElse(null))
          .build());
    }

    @Override
    public void close() {
      http.close();
    }
  }

  private static final class Pausing extends FilterInputStream {
    private boolean first = true;

    Pausing(InputStream in) {
      super(in);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (!first) {
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      first = false;
      return super.read(b, off, len);
    }
  }
}
