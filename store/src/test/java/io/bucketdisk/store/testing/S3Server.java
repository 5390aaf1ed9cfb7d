package io.bucketdisk.store.testing;

import java.net.URI;

/**
 * A real S3 server for tests: {@link S3ProxyFixture} (embedded s3proxy) or {@link CephRgwFixture} (a single-node
 * Ceph cluster with a RADOS Gateway). Tests that must hold on every server take one as a parameter ({@link
 * #all()}) and state per server what its start-up probe must find ({@link #atomicConditionalWrites()}).
 */
public interface S3Server {

  /** {@code s3proxy} or {@code ceph-rgw}: for test names and messages. */
  String name();

  /** {@code http://127.0.0.1:<port>}. */
  URI endpoint();

  /** A bucket that exists for the whole run. */
  String bucket();

  /** Creates a fresh, empty bucket and returns its name. */
  String newBucket();

  /** The store URL of {@code prefix} in {@link #bucket()}, with credentials and the settings this server needs. */
  default URI storeUrl(String prefix) {
    return storeUrlVia(endpoint(), bucket(), prefix);
  }

  /** The store URL of {@code bucket}/{@code prefix} reached through {@code endpoint} (e.g. a {@link FaultyS3Proxy}). */
  URI storeUrlVia(URI endpoint, String bucket, String prefix);

  /**
   * What the start-up probe must find: true when the server checks a conditional write and stores it atomically
   * (Ceph RGW), false when racing writers can all win (s3proxy 4.1.0, measured 8 of 8).
   */
  boolean atomicConditionalWrites();

  /**
   * Whether the server refuses the AWS SDK's aws-chunked uploads (Ceph RGW 16: XAmzContentSHA256Mismatch for an
   * empty body and for a checksum trailer).
   */
  boolean refusesStreamingUploads();

  /** Whether the server compares If-Match against the unquoted ETag (Ceph RGW 16). */
  boolean comparesUnquotedEtags();

  /**
   * Both servers, for {@code @MethodSource("io.bucketdisk.store.testing.S3Server#all")}: s3proxy in memory (started
   * here, stopped when the JVM exits) and the shared Ceph RGW of this run. s3proxy's fixture is {@link
   * AutoCloseable}: use {@code @ParameterizedTest(autoCloseArguments = false)}, else JUnit stops it after the first
   * test.
   */
  static java.util.stream.Stream<S3Server> all() {
    return java.util.stream.Stream.of(S3ProxyFixture.shared(), CephRgwFixture.shared());
  }
}
