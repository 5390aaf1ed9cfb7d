package io.bucketdisk.store.object;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;

/** Builds the SDK client of an {@link S3ObjectStore.Config}: credentials, timeouts, checksum mode, CA bundle. */
final class S3Clients {
  /**
   * Every client's attempt timeouts (one task per request, cancelled when it returns). The SDK's own executor keeps a
   * cancelled task queued until its delay passes (30 s here); a warm read after random writes had 34,000 queued
   * scheduled tasks in the heap before this, 18,000 after (docs/cache.md). This one drops a task when it is
   * cancelled; its one daemon thread only aborts late requests.
   */
  private static final ScheduledThreadPoolExecutor TIMEOUTS = timeouts();

  private S3Clients() {}

  private static ScheduledThreadPoolExecutor timeouts() {
    ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1,
        Thread.ofPlatform().daemon().name("s3-timeouts").factory());
    e.setRemoveOnCancelPolicy(true);
    return e;
  }

  /**
   * A client with the SDK's retries off. {@code streaming} true is the SDK default for uploads over http: an
   * aws-chunked body (signed chunks, checksum in a trailer); false sends a plain body with its checksum in a header.
   * {@code requestChecksums} true computes a checksum wherever S3 supports one (the SDK default); false only where S3
   * requires one.
   */
  static S3Client build(S3ObjectStore.Config config, boolean streaming, boolean requestChecksums) {
    var builder = S3Client.builder()
        .region(Region.of(config.region()))
        .forcePathStyle(config.pathStyle())
        .credentialsProvider(credentials(config))
        .httpClient(http(config))
        .serviceConfiguration(S3Configuration.builder().chunkedEncodingEnabled(streaming).build())
        .requestChecksumCalculation(requestChecksums
            ? RequestChecksumCalculation.WHEN_SUPPORTED : RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .overrideConfiguration(c -> c.retryStrategy(AwsRetryStrategy.doNotRetry())
            .apiCallAttemptTimeout(config.attemptTimeout())
            .scheduledExecutorService(TIMEOUTS));
    if (config.endpoint() != null) {
      builder.endpointOverride(config.endpoint());
    }
    return builder.build();
  }

  /** The config's credentials: its access and secret key, else the AWS default chain. */
  static AwsCredentialsProvider credentials(S3ObjectStore.Config config) {
    return config.accessKey() != null && config.secretKey() != null
        ? StaticCredentialsProvider.create(AwsBasicCredentials.create(config.accessKey(), config.secretKey()))
        : DefaultCredentialsProvider.builder().build();
  }

  /** An HTTP client with the config's timeouts and CA bundle (the JDK's URL connections, pooled process-wide). */
  static SdkHttpClient http(S3ObjectStore.Config config) {
    var http = UrlConnectionHttpClient.builder()
        .connectionTimeout(Duration.ofSeconds(5))
        .socketTimeout(config.attemptTimeout());
    if (config.caBundle() != null) {
      TrustManager[] trust = trustManagers(config.caBundle());
      http.tlsTrustManagersProvider(() -> trust);
    }
    return http.build();
  }

  /** Runs {@code task} after {@code delay} on the timeout thread unless the returned future is cancelled first. */
  static ScheduledFuture<?> schedule(Runnable task, Duration delay) {
    return TIMEOUTS.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Trust managers that trust exactly the certificates of a PEM bundle (one or more CA certificates). Throws
   * {@link IllegalArgumentException} with a one-line message when the file cannot be read or holds no certificate.
   */
  static TrustManager[] trustManagers(Path bundle) {
    try (InputStream in = Files.newInputStream(bundle)) {
      Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
      if (certs.isEmpty()) {
        throw new IllegalArgumentException("store URL ca-bundle " + bundle + " holds no PEM certificate");
      }
      KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(null, null);
      int i = 0;
      for (Certificate c : certs) {
        ks.setCertificateEntry("ca-" + i++, c);
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ks);
      return tmf.getTrustManagers();
    } catch (IOException e) {
      throw new IllegalArgumentException("store URL ca-bundle " + bundle + " cannot be read: " + e.getMessage());
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("store URL ca-bundle " + bundle + " is not a PEM certificate bundle: "
          + e.getMessage());
    }
  }
}
