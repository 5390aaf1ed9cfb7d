package io.bucketdisk.store.object;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.StoreMetrics.Op;
import io.bucketdisk.store.outage.Outage;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * An {@link ObjectStore} on an S3-compatible server through the AWS SDK v2 sync client (URL-connection HTTP client,
 * no Netty). Keys are prefixed with the configured prefix. The SDK's own retries are off: {@link Retrier} retries
 * 5xx, 429, 503 SlowDown, throttling and request-timeout codes and connection errors, with backoff and full jitter.
 * Errors carry the server's code and message and the fix ({@link S3Errors}).
 *
 * <p>At construction the {@link S3Probe} checks every feature the layout relies on and picks the working form of
 * each (aws-chunked or plain uploads, request checksums, ETag quoting in {@code If-Match}, batched deletes); the result is logged as one line and
 * kept per server, bucket and credentials for the life of the process. When a feature without which data could be
 * lost is missing, construction fails with a one-line fix; a server whose conditional writes are not atomic is used
 * only with {@code accept-unfenced=true}. Thread safe.
 */
public final class S3ObjectStore implements ObjectStore {
  private static final Logger log = LoggerFactory.getLogger(S3ObjectStore.class);
  /** Probe results per server, bucket and credentials: a process may open many stores on one server. */
  private static final Map<String, S3Compatibility> PROBED = new ConcurrentHashMap<>();

  static {
    // The URL-connection client keeps at most http.maxConnections idle connections per host (JDK default 5); the
    // gateway uploads many chunks in parallel, so keep more alive (and skip a TCP/TLS handshake per request) unless
    // the operator chose a value. Read once by the JDK, so set before the first request.
    if (System.getProperty("http.maxConnections") == null) {
      System.setProperty("http.maxConnections", "64");
    }
  }

  /** How request checksums are chosen: probed, the SDK default (streaming, trailing), or only where required. */
  public enum ChecksumMode {
    AUTO,
    WHEN_SUPPORTED,
    WHEN_REQUIRED
  }

  /**
   * Where and how to connect. {@code endpoint} null means AWS itself; {@code accessKey}/{@code secretKey} null means
   * the AWS default credentials chain. {@code prefix} is empty or ends with '/'. {@code attemptTimeout} bounds one
   * request attempt. {@code caBundle} is a PEM file of the CAs to trust for an https endpoint (null: the JDK's).
   * {@code acceptUnfenced} lets the store open on a server whose conditional writes are not atomic.
   */
  public record Config(String bucket, String prefix, @Nullable URI endpoint, String region, boolean pathStyle,
      @Nullable String accessKey, @Nullable String secretKey, RetryPolicy retry, Duration attemptTimeout,
      ChecksumMode checksum, @Nullable Path caBundle, boolean acceptUnfenced) {

    public Config {
      if (!prefix.isEmpty() && !prefix.endsWith("/")) {
        prefix = prefix + "/";
      }
    }

    /** A config with the default retry policy, a 30 s per-attempt timeout and probed checksums. */
    public static Config of(String bucket, String prefix, @Nullable URI endpoint, String region, boolean pathStyle,
        @Nullable String accessKey, @Nullable String secretKey) {
      return new Config(bucket, prefix, endpoint, region, pathStyle, accessKey, secretKey, RetryPolicy.defaults(),
          Duration.ofSeconds(30), ChecksumMode.AUTO, null, false);
    }

    public Config withRetry(RetryPolicy r) {
      return new Config(bucket, prefix, endpoint, region, pathStyle, accessKey, secretKey, r, attemptTimeout,
          checksum, caBundle, acceptUnfenced);
    }

    public Config withAttemptTimeout(Duration d) {
      return new Config(bucket, prefix, endpoint, region, pathStyle, accessKey, secretKey, retry, d, checksum,
          caBundle, acceptUnfenced);
    }

    public Config withChecksum(ChecksumMode c) {
      return new Config(bucket, prefix, endpoint, region, pathStyle, accessKey, secretKey, retry, attemptTimeout, c,
          caBundle, acceptUnfenced);
    }

    public Config withCaBundle(@Nullable Path p) {
      return new Config(bucket, prefix, endpoint, region, pathStyle, accessKey, secretKey, retry, attemptTimeout,
          checksum, p, acceptUnfenced);
    }

    public Config withAcceptUnfenced(boolean accept) {
      return new Config(bucket, prefix, endpoint, region, pathStyle, accessKey, secretKey, retry, attemptTimeout,
          checksum, caBundle, accept);
    }

    String probeKey() {
      return endpoint + "|" + region + "|" + bucket + "|" + pathStyle + "|" + accessKey + "|"
          + (secretKey == null ? 0 : secretKey.hashCode()) + "|" + checksum + "|" + caBundle;
    }
  }

  private final Config config;
  private final StoreMetrics metrics;
  private final Retrier retrier;
  private final S3Connection connection;
  private final S3DataRequests direct;
  private final S3Preconditions preconditions;
  private final S3Deletes deletes;
  private final S3Compatibility compatibility;

  /**
   * Connects and probes the server (once per server, bucket and credentials in this process). Throws a PERMANENT
   * error naming the fix when the bucket is unusable or a data-safety feature is missing and not accepted.
   */
  public S3ObjectStore(Config config, StoreMetrics metrics) throws ObjectStoreException {
    this.config = config;
    this.metrics = metrics;
    this.retrier = new Retrier(config.retry(), metrics, this::classify);
    this.connection = new S3Connection(config, config.checksum() != ChecksumMode.WHEN_REQUIRED);
    this.direct = new S3DataRequests(config, connection.client());
    this.preconditions = new S3Preconditions(connection, config.bucket());
    this.deletes = new S3Deletes(connection, retrier, config, describe());
    S3Compatibility probed = PROBED.get(config.probeKey());
    try {
      if (probed == null) {
        probed = new S3Probe(this, connection, preconditions, deletes)
            .run(config.checksum() != ChecksumMode.WHEN_REQUIRED);
        log.atLevel(probed.gaps(config.acceptUnfenced()).isEmpty() ? Level.INFO : Level.WARN)
            .log("{}", probed.startLine("store " + describe(), config.acceptUnfenced()));
      } else {
        connection.useUploadForm(probed.streaming(), probed.requestChecksums());
        preconditions.ifMatchUnquoted(probed.ifMatchUnquoted());
        deletes.batchDeletes(probed.batchDeleteRejection() == null);
        if (probed.plainBodyRejection() != null) {
          connection.bulkAsProbed();
        }
      }
      if (config.checksum() == ChecksumMode.WHEN_SUPPORTED && !probed.requestChecksums()) {
        throw new ObjectStoreException(Kind.PERMANENT, 400, probed.checksumRejection(), "store " + describe()
            + " refuses request checksums (" + probed.checksumRejection() + "); use checksum=auto or "
            + "checksum=when-required", null);
      }
      if (probed.unusable() || !probed.fencing() && !config.acceptUnfenced()) {
        throw new ObjectStoreException(Kind.PERMANENT, 0, probed.refusal("store " + describe()));
      }
    } catch (ObjectStoreException e) {
      close();
      if (e.kind() == Kind.NOT_FOUND) {
        throw new ObjectStoreException(Kind.PERMANENT, e.httpStatus(), e.getMessage(), e);
      }
      throw e;
    }
    PROBED.putIfAbsent(config.probeKey(), probed);
    this.compatibility = probed;
    connection.probed();
    // attached after the probe: a store that cannot open says so once, in the exception
    Outage outage = new Outage(log, "store " + describe());
    retrier.outage(outage);
    metrics.outage(outage);
  }

  /** What the start-up probe found (or the remembered result for this server), and so how this store talks. */
  public S3Compatibility compatibility() {
    return compatibility;
  }

  @Override
  public Optional<ObjectData> get(String key) throws ObjectStoreException {
    return retrier.call(Op.GET, key, () -> {
      try (ResponseInputStream<GetObjectResponse> in =
          connection.client().getObject(b -> b.bucket(config.bucket()).key(full(key)))) {
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
    return read(key, offset, new ByteBuffer[] {dst});
  }

  @Override
  public int read(String key, long offset, ByteBuffer[] dsts) throws ObjectStoreException {
    long length = ByteBuffers.remaining(dsts);
    if (length == 0) {
      return 0;
    }
    int[] starts = ByteBuffers.positions(dsts);
    return retrier.call(Op.GET, key, () -> {
      ByteBuffers.reposition(dsts, starts);
      String range = "bytes=" + offset + "-" + (offset + length - 1);
      try {
        S3DataRequests.Read read = direct.read(full(key), range, dsts);
        if (!read.ranged() && offset > 0) {
          throw new ObjectStoreException(Kind.PERMANENT, 200, null, "GET " + describe() + " " + key + " " + range
              + ": the server ignored the Range header; use another S3 server (see docs/troubleshooting.md)", null);
        }
        metrics.bytesDown(read.bytes());
        return read.bytes();
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

  @Override
  public String put(String key, ByteBuffer data, WriteCondition condition) throws ObjectStoreException {
    return put(key, new ByteBuffer[] {data}, condition);
  }

  @Override
  public String put(String key, ByteBuffer[] data, WriteCondition condition) throws ObjectStoreException {
    return put(key, data, condition, UnaryOperator.identity());
  }

  /**
   * {@link #put(String, ByteBuffer[], WriteCondition)} with the body read through {@code body} unless it goes as a
   * plain bulk upload (the probe's race holds each body's last byte until every writer has sent the rest).
   */
  String put(String key, ByteBuffer[] data, WriteCondition condition, UnaryOperator<InputStream> body)
      throws ObjectStoreException {
    long length = ByteBuffers.remaining(data);
    if (connection.plainBody(length, condition.isConditional())) {
      return retrier.call(Op.PUT, key, () -> {
        String etag = direct.put(full(key), data, length, connection.requestChecksums());
        metrics.bytesUp(length);
        return etag;
      });
    }
    int[] attempts = {0};
    return retrier.call(Op.PUT, key, () -> {
      attempts[0]++;
      PutObjectRequest.Builder req = PutObjectRequest.builder().bucket(config.bucket()).key(full(key))
          .contentLength(length);
      preconditions.addTo(req, condition);
      RequestBody content = RequestBody.fromContentProvider(
          () -> body.apply(ByteBufferInputStream.of(data)), length, "application/octet-stream");
      try {
        String etag = connection.client().putObject(req.build(), content).eTag();
        metrics.bytesUp(length);
        return etag;
      } catch (S3Exception e) {
        if (condition.isConditional() && attempts[0] > 1 && (e.statusCode() == 412 || e.statusCode() == 404)) {
          // an earlier attempt may have succeeded with its response lost: then the precondition now fails
          // against our own write. Same bytes stored means it was ours.
          String mine = preconditions.storedEtagIfSame(full(key), data);
          if (mine != null) {
            metrics.bytesUp(length);
            return mine;
          }
        }
        if (e.statusCode() == 404 && condition.matchEtag() != null) {
          throw new ObjectStoreException(Kind.CONFLICT, 404, "PUT " + key + ": gone (If-Match)", e);
        }
        throw e;
      } catch (SdkClientException e) {
        // A server may answer 412 before it reads the body and close the connection (s3proxy does), which the HTTP
        // client reports as a failed body write, on every retry. Ask the object itself whether the condition still
        // holds: if not, this is the precondition failure; if the bytes there are ours, an attempt got through.
        if (condition.isConditional()) {
          var now = preconditions.conditionNow(full(key), data, condition);
          if (now instanceof String mine) {
            metrics.bytesUp(length);
            return mine;
          }
          if (Boolean.FALSE.equals(now)) {
            throw new ObjectStoreException(Kind.CONFLICT, 412, "PUT " + key + ": precondition failed (the server"
                + " closed the connection before the body was sent; the object shows the condition is false)", e);
          }
        }
        throw e;
      }
    });
  }

  @Override
  public Optional<ObjectInfo> head(String key) throws ObjectStoreException {
    return retrier.call(Op.HEAD, key, () -> {
      try {
        HeadObjectResponse r = connection.client().headObject(b -> b.bucket(config.bucket()).key(full(key)));
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
    deletes.delete(key);
  }

  @Override
  public void delete(Collection<String> keys) throws ObjectStoreException {
    deletes.delete(keys);
  }

  /** Lowers the DeleteObjects batch size (tests cross the batch boundary with few keys). */
  void deleteBatchSize(int size) {
    deletes.deleteBatchSize(size);
  }

  @Override
  public ListPage list(String prefix, @Nullable String token, int maxKeys) throws ObjectStoreException {
    if (maxKeys < 1 || maxKeys > 1000) {
      throw new IllegalArgumentException("maxKeys must be 1..1000, not " + maxKeys);
    }
    return retrier.call(Op.LIST, prefix, () -> {
      ListObjectsV2Response r = connection.client().listObjectsV2(b -> b.bucket(config.bucket()).prefix(full(prefix))
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
    return compatibility.createOnly() && compatibility.ifMatch();
  }

  @Override
  public boolean conditionalWritesAtomic() {
    return compatibility.fencing();
  }

  @Override
  public String describe() {
    return "s3://" + config.bucket() + "/" + config.prefix()
        + (config.endpoint() != null ? " at " + config.endpoint() : " in " + config.region());
  }

  @Override
  public void close() {
    connection.close();
  }

  private static boolean noSuchBucket(S3Exception e) {
    return e.awsErrorDetails() != null && "NoSuchBucket".equals(e.awsErrorDetails().errorCode());
  }

  private String full(String key) {
    return config.prefix() + key;
  }

  private ObjectStoreException classify(Op op, String key, Exception e) {
    return S3Errors.classify(op + " " + describe() + " " + key,
        config.endpoint() != null ? config.endpoint().toString() : "AWS", e);
  }
}
