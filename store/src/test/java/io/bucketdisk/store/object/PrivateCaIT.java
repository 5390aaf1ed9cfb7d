package io.bucketdisk.store.object;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.testing.S3ProxyFixture;
import io.bucketdisk.testing.Tool;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An https endpoint whose certificate no public CA signed (s3proxy with a fresh self-signed certificate from
 * keytool): without {@code ca-bundle} the open fails with one line naming it; with the certificate as the bundle it
 * opens and works.
 */
@Timeout(120)
class PrivateCaIT {

  @Test
  void caBundleTrustsAPrivateEndpoint(@TempDir Path dir) throws Exception {
    Path keystore = dir.resolve("s3.p12");
    Path ca = dir.resolve("ca.pem");
    String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    Tool.run(60, keytool, "-genkeypair", "-alias", "s3", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
        "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-keystore", keystore.toString(),
        "-storetype", "PKCS12", "-storepass", "changeit").ok();
    Tool.run(60, keytool, "-exportcert", "-rfc", "-alias", "s3", "-keystore", keystore.toString(), "-storepass",
        "changeit", "-file", ca.toString()).ok();
    var blobs = new TransientNio2BlobStore();
    S3Proxy proxy = S3Proxy.builder().blobStore(blobs).secureEndpoint(URI.create("https://127.0.0.1:0"))
        .keyStore(keystore.toString(), "changeit")
        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, S3ProxyFixture.ACCESS_KEY, S3ProxyFixture.SECRET_KEY)
        .build();
    proxy.start();
    try {
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (!"STARTED".equals(proxy.getState()) && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      blobs.createContainer("tls");
      String endpoint = "https://127.0.0.1:" + proxy.getSecurePort();
      String url = "s3://tls/p/?endpoint=" + URLEncoder.encode(endpoint, StandardCharsets.UTF_8)
          + "&region=us-east-1&access-key=" + S3ProxyFixture.ACCESS_KEY + "&secret-key=" + S3ProxyFixture.SECRET_KEY
          + "&accept-unfenced=true";

      assertThatThrownBy(() -> ObjectStores.open(URI.create(url), StoreMetrics.NONE))
          .isInstanceOfSatisfying(ObjectStoreException.class, e -> {
            assertThat(e.isTransient()).isFalse();
            assertThat(e.getMessage()).contains("TLS failed").contains("add ca-bundle=/path/to/ca.pem")
                .doesNotContain("\n");
          });

      try (ObjectStore s = ObjectStores.open(URI.create(url + "&ca-bundle=" + ca), StoreMetrics.NONE)) {
        s.put("k", ByteBuffer.wrap(new byte[] {7}));
        assertThat(s.get("k").orElseThrow().bytes()).containsExactly(7);
      }
    } finally {
      proxy.stop();
    }
  }
}
