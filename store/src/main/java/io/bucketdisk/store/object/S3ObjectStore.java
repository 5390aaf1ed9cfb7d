package io.bucketdisk.store.object;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.StoreMetrics.Op;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkServiceException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.DeleteObjectsResponse;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * An {@link ObjectStore} on an S3-compatible server through the AWS SDK v2 sync client (URL-connection HTTP client,
 * no Netty). Keys are prefixed with the configured prefix. The SDK's own retries are off: {@link Retrier} retries
 * 5xx, 429, 503 SlowDown, throttling and request-timeout codes and connection errors, with backoff and full jitter.
 *
 * <p>At construction it probes conditional writes (two {@code If-None-Match: *} PUTs of one random key under
 * {@code <prefix>.bucketdisk-probe/}; the second must be refused) and logs a warning when the server ignores them.
 * Thread safe.
 */
public final class S3ObjectStore implements ObjectStore {
  private static final Logger log = LoggerFactory.getLogger(S3ObjectStore.class);
  private static final int MAX_DELETE_BATCH = 1000;

  static {
    // The URL-connection client keeps at most http.maxConnections idle connections per host (JDK default 5); the
    // gateway uploads many chunks in parallel, so keep more alive (and skip a TCP/TLS handshake per request) unless
    // the operator chose a value. Read once by the JDK, so set before the first request.
    if (System.getProperty("http.maxConnections") == null) {
      System.setProperty("http.maxConnections", "64");
    }
  }

  /**
   * Where and how to connect. {@code endpoint} null means AWS itself; {@code accessKey}/{@code secretKey} null means
   * the AWS default credentials chain. {@code prefix} is empty or ends with '/'.
   */
  public record Config(String bucket, String prefix, @Nullable URI endpoint, String region, boolean pathStyle,
      @Nullable String accessKey, @Nullable String secretKey, RetryPolicy retry, Duration attemptTimeout) {

    public Config {
      if (!prefix.isEmpty() && !prefix.endsWith("/")) {
        prefix = prefix + "/";
      }
    }

    /** A config with the default retry policy and a 30 s per-attempt timeout. */
    public static Config of(String bucket, String prefix, @Nullable URI endpoint, String region, boolean pathStyle,
        @Nullable String accessKey, @Nullable String secretKey) {
      return new Config(bucket, prefix, endpoint, region, pathStyle, accessKey, secretKey, RetryPolicy.defaults(),
          Duration.ofSeconds(30));
    }

    public Config withRetry(RetryPolicy r) {
      return new Config(bucket, prefix, endpoint, region, pathStyle, accessKey, secretKey, r, attemptTimeout);
    }

    public Config withAttemptTimeout(Duration d) {
      return new Config(bucket, prefix, endpoint, region, pathStyle, accessKey, secretKey, retry, d);
    }
  }

  private final Config config;
  private final S3Client s3;
  private final StoreMetrics metrics;
  private final Retrier retrier;
  private final boolean conditionalWrites;
  private final boolean atomicConditionalWrites;
  private static final int RACERS = 8;
  /** One race can show a server is not atomic, never that it is: a clean start races this many times. */
  private static final int RACE_ROUNDS = 3;
  private volatile int deleteBatch = MAX_DELETE_BATCH;

  /** Connects and probes conditional writes. Throws a PERMANENT error naming the fix when the bucket is unusable. */
  public S3ObjectStore(Config config, StoreMetrics metrics) throws ObjectStoreException {
    this.config = config;
    this.metrics = metrics;
    this.retrier = new Retrier(config.retry(), metrics, this::classify);
    AwsCredentialsProvider credentials = config.accessKey() != null && config.secretKey() != null
        ? StaticCredentialsProvider.create(AwsBasicCredentials.create(config.accessKey(), config.secretKey()))
        : DefaultCredentialsProvider.builder().build();
    var builder = S3Client.builder()
        .region(Region.of(config.region()))
        .forcePathStyle(config.pathStyle())
        .credentialsProvider(credentials)
        .httpClient(UrlConnectionHttpClient.builder()
            .connectionTimeout(Duration.ofSeconds(5))
            .socketTimeout(config.attemptTimeout())
            .build())
        .overrideConfiguration(c -> c.retryStrategy(AwsRetryStrategy.doNotRetry())
            .apiCallAttemptTimeout(config.attemptTimeout()));
    if (config.endpoint() != null) {
      builder.endpointOverride(config.endpoint());
    }
    this.s3 = builder.build();
    boolean honoured;
    int racingWinners;
    try {
      honoured = probeConditionalWrites();
      racingWinners = honoured ? 0 : RACERS;
      // Rounds go on while each has exactly one winner (or was spoiled by a failed request); one round with more
      // is proof enough. No conclusive round at all counts as not atomic.
      int conclusive = 0;
      for (int round = 0; honoured && round < RACE_ROUNDS && racingWinners <= 1; round++) {
        int winners = probeRacingWriters();
        if (winners >= 0) {
          conclusive++;
          racingWinners = winners;
        }
      }
      if (honoured && conclusive == 0) {
        racingWinners = RACERS;
        log.warn("{}: every race of conditional writers was spoiled by failed requests; treating conditional writes"
            + " as not atomic", describe());
      }
    } catch (ObjectStoreException e) {
      s3.close();
      throw e;
    }
    this.conditionalWrites = honoured;
    this.atomicConditionalWrites = honoured && racingWinners == 1;
    if (honoured && racingWinners != 1) {
      log.warn("{} checks conditional writes but not atomically: {} of {} racing If-Match writers won; two "
          + "gateways racing for one volume's lease are not fenced apart", describe(), racingWinners, RACERS);
    }
    if (!honoured) {
      log.warn("{} IGNORES conditional writes (If-None-Match): two writers of one volume cannot be fenced apart; "
          + "use a server that supports them (AWS S3, MinIO, s3proxy, Ceph RGW >= 19)", describe());
    }
  }

  private boolean probeConditionalWrites() throws ObjectStoreException {
    String key = ".bucketdisk-probe/" + UUID.randomUUID();
    try {
      put(key, ByteBuffer.wrap(new byte[] {1}), WriteCondition.ifNoneMatch());
      try {
        // different bytes, so a retried attempt cannot mistake the first PUT for its own
        put(key, ByteBuffer.wrap(new byte[] {2}), WriteCondition.ifNoneMatch());
        return false;
      } catch (ObjectStoreException e) {
        if (e.isPrecondition()) {
          return true;
        }
        throw e;
      }
    } catch (ObjectStoreException e) {
      if (e.kind() == Kind.PERMANENT || e.kind() == Kind.NOT_FOUND) {
        throw new ObjectStoreException(Kind.PERMANENT, e.httpStatus(), "cannot write to " + describe() + ": "
            + e.getMessage() + "; check the bucket name, endpoint, region and credentials", e);
      }
      throw e;
    } finally {
      try {
        delete(key);
      } catch (ObjectStoreException e) {
        log.debug("probe key {} not deleted: {}", key, e.getMessage());
      }
    }
  }

  /**
   * Races {@link #RACERS} If-Match PUTs on one ETag; returns how many won (1 when the server is atomic), or -1 when a
   * racer failed for another reason than the precondition (the round proves nothing).
   */
  private int probeRacingWriters() throws ObjectStoreException {
    String key = ".bucketdisk-probe/" + UUID.randomUUID();
    try {
      String etag = put(key, ByteBuffer.wrap(new byte[] {0}));
      var go = new java.util.concurrent.CountDownLatch(1);
      var wins = new java.util.concurrent.atomic.AtomicInteger();
      var failure = new java.util.concurrent.atomic.AtomicReference<ObjectStoreException>();
      List<Thread> racers = new ArrayList<>();
      for (int i = 0; i < RACERS; i++) {
        byte me = (byte) (i + 1);
        racers.add(Thread.ofVirtual().start(() -> {
          try {
            go.await();
            put(key, ByteBuffer.wrap(new byte[] {me}), WriteCondition.ifMatch(etag));
            wins.incrementAndGet();
          } catch (ObjectStoreException e) {
            if (!e.isPrecondition()) {
              failure.compareAndSet(null, e);
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }));
      }
      go.countDown();
      for (Thread t : racers) {
        t.join(Duration.ofSeconds(60));
      }
      if (failure.get() != null) {
        log.debug("{}: a racing probe writer failed: {}", describe(), failure.get().getMessage());
        return -1;
      }
      return wins.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ObjectStoreException(Kind.TRANSIENT, 0, "interrupted while probing " + describe(), e);
    } finally {
      try {
        delete(key);
      } catch (ObjectStoreException e) {
        log.debug("probe key {} not deleted: {}", key, e.getMessage());
      }
    }
  }

  @Override
  public Optional<ObjectData> get(String key) throws ObjectStoreException {
    return retrier.call(Op.GET, key, () -> {
      try (ResponseInputStream<GetObjectResponse> in =
          s3.getObject(b -> b.bucket(config.bucket()).key(full(key)))) {
        byte[] bytes = in.readAllBytes();
        metrics.bytesDown(bytes.length);
        return Optional.of(new ObjectData(bytes, in.response().eTag()));
      } catch (S3Exception e) {
        if (e.statusCode() == 404 && !noSuchBucket(e)) {
          return Optional.empty();
        }
        throw e;
      }
    });
  }

  @Override
  public int read(String key, long offset, ByteBuffer dst) throws ObjectStoreException {
    if (!dst.hasRemaining()) {
      return 0;
    }
    int startPos = dst.position();
    return retrier.call(Op.GET, key, () -> {
      dst.position(startPos);
      String range = "bytes=" + offset + "-" + (offset + dst.remaining() - 1);
      try (ResponseInputStream<GetObjectResponse> in =
          s3.getObject(b -> b.bucket(config.bucket()).key(full(key)).range(range))) {
        int n = readInto(in, dst);
        metrics.bytesDown(n);
        return n;
      } catch (S3Exception e) {
        if (e.statusCode() == 404 && !noSuchBucket(e)) {
          return -1;
        }
        if (e.statusCode() == 416) {
          return 0; // offset at or past the end
        }
        throw e;
      }
    });
  }

  private static int readInto(InputStream in, ByteBuffer dst) throws IOException {
    int n = 0;
    if (dst.hasArray()) {
      byte[] a = dst.array();
      int base = dst.arrayOffset();
      while (dst.hasRemaining()) {
        int r = in.read(a, base + dst.position(), dst.remaining());
        if (r < 0) {
          break;
        }
        dst.position(dst.position() + r);
        n += r;
      }
      return n;
    }
    byte[] tmp = new byte[Math.min(64 * 1024, dst.remaining())];
    while (dst.hasRemaining()) {
      int r = in.read(tmp, 0, Math.min(tmp.length, dst.remaining()));
      if (r < 0) {
        break;
      }
      dst.put(tmp, 0, r);
      n += r;
    }
    return n;
  }

  @Override
  public String put(String key, ByteBuffer data, WriteCondition condition) throws ObjectStoreException {
    int length = data.remaining();
    int[] attempts = {0};
    return retrier.call(Op.PUT, key, () -> {
      attempts[0]++;
      PutObjectRequest.Builder req = PutObjectRequest.builder().bucket(config.bucket()).key(full(key))
          .contentLength((long) length);
      if (condition.createOnly()) {
        req.ifNoneMatch("*");
      }
      if (condition.matchEtag() != null) {
        req.ifMatch(condition.matchEtag());
      }
      RequestBody body = RequestBody.fromContentProvider(
          () -> new ByteBufferInputStream(data.duplicate()), length, "application/octet-stream");
      try {
        String etag = s3.putObject(req.build(), body).eTag();
        metrics.bytesUp(length);
        return etag;
      } catch (S3Exception e) {
        if (condition.isConditional() && attempts[0] > 1 && (e.statusCode() == 412 || e.statusCode() == 404)) {
          // an earlier attempt may have succeeded with its response lost: then the precondition now fails
          // against our own write. Same bytes stored means it was ours.
          String mine = storedEtagIfSame(key, data);
          if (mine != null) {
            metrics.bytesUp(length);
            return mine;
          }
        }
        if (e.statusCode() == 404 && condition.matchEtag() != null) {
          throw new ObjectStoreException(Kind.CONFLICT, 404, "PUT " + key + ": gone (If-Match)", e);
        }
        throw e;
      }
    });
  }

  private @Nullable String storedEtagIfSame(String key, ByteBuffer data) {
    try (ResponseInputStream<GetObjectResponse> in =
        s3.getObject(b -> b.bucket(config.bucket()).key(full(key)))) {
      byte[] stored = in.readAllBytes();
      return ByteBuffer.wrap(stored).equals(data) ? in.response().eTag() : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  @Override
  public Optional<ObjectInfo> head(String key) throws ObjectStoreException {
    return retrier.call(Op.HEAD, key, () -> {
      try {
        HeadObjectResponse r = s3.headObject(b -> b.bucket(config.bucket()).key(full(key)));
        return Optional.of(new ObjectInfo(key, r.contentLength(), r.eTag()));
      } catch (S3Exception e) {
        if (e.statusCode() == 404 && !noSuchBucket(e)) {
          return Optional.empty();
        }
        throw e;
      }
    });
  }

  @Override
  public void delete(String key) throws ObjectStoreException {
    retrier.call(Op.DELETE, key, () -> {
      try {
        s3.deleteObject(b -> b.bucket(config.bucket()).key(full(key)));
      } catch (S3Exception e) {
        if (e.statusCode() != 404) {
          throw e;
        }
      }
      return null;
    });
  }

  @Override
  public void delete(Collection<String> keys) throws ObjectStoreException {
    int max = deleteBatch;
    List<ObjectIdentifier> batch = new ArrayList<>(Math.min(keys.size(), max));
    for (String key : keys) {
      batch.add(ObjectIdentifier.builder().key(full(key)).build());
      if (batch.size() == max) {
        deleteBatch(batch);
        batch = new ArrayList<>(max);
      }
    }
    if (!batch.isEmpty()) {
      deleteBatch(batch);
    }
  }

  private void deleteBatch(List<ObjectIdentifier> batch) throws ObjectStoreException {
    retrier.call(Op.DELETE, batch.size() + " keys", () -> {
      DeleteObjectsResponse r = s3.deleteObjects(b -> b.bucket(config.bucket())
          .delete(Delete.builder().objects(batch).quiet(true).build()));
      var errors = r.errors().stream().filter(e -> !"NoSuchKey".equals(e.code())).toList();
      if (!errors.isEmpty()) {
        var first = errors.getFirst();
        boolean transientError = "InternalError".equals(first.code()) || "SlowDown".equals(first.code())
            || "ServiceUnavailable".equals(first.code());
        throw new ObjectStoreException(transientError ? Kind.TRANSIENT : Kind.PERMANENT, 200,
            "DeleteObjects: " + errors.size() + " of " + batch.size() + " keys not deleted, first "
                + first.key() + ": " + first.code() + " " + first.message());
      }
      return null;
    });
  }

  /** Lowers the DeleteObjects batch size (tests cross the batch boundary with few keys). */
  void deleteBatchSize(int size) {
    if (size < 1 || size > MAX_DELETE_BATCH) {
      throw new IllegalArgumentException("batch size must be 1..1000");
    }
    deleteBatch = size;
  }

  @Override
  public ListPage list(String prefix, @Nullable String token, int maxKeys) throws ObjectStoreException {
    if (maxKeys < 1 || maxKeys > 1000) {
      throw new IllegalArgumentException("maxKeys must be 1..1000, not " + maxKeys);
    }
    return retrier.call(Op.LIST, prefix, () -> {
      ListObjectsV2Response r = s3.listObjectsV2(b -> b.bucket(config.bucket()).prefix(full(prefix))
          .maxKeys(maxKeys).continuationToken(token));
      List<ObjectInfo> out = new ArrayList<>(r.contents().size());
      int strip = config.prefix().length();
      for (S3Object o : r.contents()) {
        out.add(new ObjectInfo(o.key().substring(strip), o.size(), o.eTag()));
      }
      String next = Boolean.TRUE.equals(r.isTruncated()) ? r.nextContinuationToken() : null;
      return new ListPage(out, next);
    });
  }

  @Override
  public boolean conditionalWritesHonoured() {
    return conditionalWrites;
  }

  @Override
  public boolean conditionalWritesAtomic() {
    return atomicConditionalWrites;
  }

  @Override
  public String describe() {
    return "s3://" + config.bucket() + "/" + config.prefix()
        + (config.endpoint() != null ? " at " + config.endpoint() : " in " + config.region());
  }

  @Override
  public void close() {
    s3.close();
  }

  private static boolean noSuchBucket(S3Exception e) {
    return e.awsErrorDetails() != null && "NoSuchBucket".equals(e.awsErrorDetails().errorCode());
  }

  private String full(String key) {
    return config.prefix() + key;
  }

  private ObjectStoreException classify(Op op, String key, Exception e) {
    String what = op + " " + describe() + " " + key;
    if (e instanceof SdkServiceException se) {
      int status = se.statusCode();
      String code = e instanceof S3Exception s3e && s3e.awsErrorDetails() != null
          ? s3e.awsErrorDetails().errorCode() : null;
      String msg = what + ": HTTP " + status + (code != null ? " " + code : "");
      if (status == 412) {
        return new ObjectStoreException(Kind.CONFLICT, status, msg, e);
      }
      boolean retryable = status >= 500 || status == 429 || status == 409 || se.isThrottlingException()
          || "SlowDown".equals(code) || "RequestTimeout".equals(code) || "Throttling".equals(code)
          || "RequestTimeTooSkewed".equals(code);
      if (retryable) {
        return new ObjectStoreException(Kind.TRANSIENT, status, msg, e);
      }
      if (status == 404 && "NoSuchBucket".equals(code)) {
        return new ObjectStoreException(Kind.PERMANENT, status, msg + "; create the bucket or fix its name", e);
      }
      if (status == 403) {
        return new ObjectStoreException(Kind.PERMANENT, status, msg + "; check the credentials", e);
      }
      return new ObjectStoreException(Kind.PERMANENT, status, msg, e);
    }
    if (e instanceof SdkClientException || e instanceof IOException || e instanceof UncheckedIOException) {
      return new ObjectStoreException(Kind.TRANSIENT, 0, what + ": " + e.getMessage(), e);
    }
    return new ObjectStoreException(Kind.PERMANENT, 0, what + ": " + e, e);
  }

  /** Streams a buffer's remaining bytes without copying them first. */
  private static final class ByteBufferInputStream extends InputStream {
    private final ByteBuffer buf;

    ByteBufferInputStream(ByteBuffer buf) {
      this.buf = buf;
    }

    @Override
    public int read() {
      return buf.hasRemaining() ? buf.get() & 0xff : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (len == 0) {
        return 0;
      }
      if (!buf.hasRemaining()) {
        return -1;
      }
      int n = Math.min(len, buf.remaining());
      buf.get(b, off, n);
      return n;
    }

    @Override
    public int available() {
      return buf.remaining();
    }
  }
}
