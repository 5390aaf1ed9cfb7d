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
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.sync.RequestBody;
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
  private static final int MAX_DELETE_BATCH = 1000;
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
  private final S3Compatibility compatibility;
  /**
   * PUTs of at least this many bytes without a condition (chunk objects, log segments) always go as plain bodies,
   * whichever form the probe chose for the rest. The SDK's aws-chunked encoder (its default over http) allocates a
   * fresh array per 128 KiB piece: by hand, 605 MB of the gateway's 2 GB of garbage in a 512 MiB sequential write. A
   * plain body is read from its content provider without a copy. The small and conditional writes (manifests, leases,
   * the probe's race) keep the probed form.
   */
  static final int BULK_BYTES = 64 << 10;

  private volatile S3Client s3;
  /** Large unconditional PUTs (chunks, log segments): see {@link #BULK_BYTES}. The same client as s3 when plain. */
  private volatile S3Client bulk;
  private volatile boolean streaming = true;
  private volatile boolean requestChecksums;
  private volatile boolean ifMatchUnquoted;
  private volatile boolean batchDeletes = true;
  private volatile int deleteBatch = MAX_DELETE_BATCH;

  /**
   * Connects and probes the server (once per server, bucket and credentials in this process). Throws a PERMANENT
   * error naming the fix when the bucket is unusable or a data-safety feature is missing and not accepted.
   */
  public S3ObjectStore(Config config, StoreMetrics metrics) throws ObjectStoreException {
    this.config = config;
    this.metrics = metrics;
    this.retrier = new Retrier(config.retry(), metrics, this::classify);
    this.requestChecksums = config.checksum() != ChecksumMode.WHEN_REQUIRED;
    this.s3 = S3Clients.build(config, true, requestChecksums);
    this.bulk = S3Clients.build(config, false, requestChecksums);
    S3Compatibility probed = PROBED.get(config.probeKey());
    try {
      if (probed == null) {
        probed = new S3Probe(this).run(config.checksum() != ChecksumMode.WHEN_REQUIRED);
        log.atLevel(probed.gaps(config.acceptUnfenced()).isEmpty() ? Level.INFO : Level.WARN)
            .log("{}", startLine(probed));
      } else {
        useUploadForm(probed.streaming(), probed.requestChecksums());
        ifMatchUnquoted(probed.ifMatchUnquoted());
        batchDeletes(probed.batchDeleteRejection() == null);
      }
      if (config.checksum() == ChecksumMode.WHEN_SUPPORTED && !probed.requestChecksums()) {
        throw new ObjectStoreException(Kind.PERMANENT, 400, probed.checksumRejection(), "store " + describe()
            + " refuses request checksums (" + probed.checksumRejection() + "); use checksum=auto or "
            + "checksum=when-required", null);
      }
      if (probed.unusable() || !probed.fencing() && !config.acceptUnfenced()) {
        throw new ObjectStoreException(Kind.PERMANENT, 0, refusal(probed));
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
    // attached after the probe: a store that cannot open says so once, in the exception
    Outage outage = new Outage(log, "store " + describe());
    retrier.outage(outage);
    metrics.outage(outage);
  }

  /** The one start-up line: the server's gaps and what bucketdisk does about them. */
  private String startLine(S3Compatibility c) {
    List<String> gaps = c.gaps(config.acceptUnfenced());
    return gaps.isEmpty()
        ? "store " + describe() + ": every S3 feature bucketdisk uses works (conditional writes atomic: 1 of "
            + c.raceWriters() + " racing writers won)"
        : "store " + describe() + ": server gaps: " + String.join("; ", gaps);
  }

  private String refusal(S3Compatibility c) {
    if (c.unusable()) {
      return "store " + describe() + " cannot hold volumes: " + String.join("; ", c.gaps(false))
          + "; use another S3 server (see docs/troubleshooting.md)";
    }
    return "store " + describe() + ": " + String.join("; ", c.gaps(false)) + ": two gateways could both own a "
        + "volume and overwrite each other; use a server with atomic conditional writes (AWS S3, Ceph RGW), or add "
        + "accept-unfenced=true to the store URL to accept that risk";
  }

  /** What the start-up probe found (or the remembered result for this server), and so how this store talks. */
  public S3Compatibility compatibility() {
    return compatibility;
  }

  void useUploadForm(boolean streamingUploads, boolean checksums) {
    if (streamingUploads != streaming || checksums != requestChecksums) {
      close();
      s3 = S3Clients.build(config, streamingUploads, checksums);
      bulk = streamingUploads ? S3Clients.build(config, false, checksums) : s3;
      streaming = streamingUploads;
      requestChecksums = checksums;
    }
  }

  /** The probe found plain bodies refused where the chosen form works: bulk uploads use that form too. */
  void bulkAsProbed() {
    if (bulk != s3) {
      bulk.close();
      bulk = s3;
    }
  }

  boolean streaming() {
    return streaming;
  }

  boolean requestChecksums() {
    return requestChecksums;
  }

  void ifMatchUnquoted(boolean on) {
    ifMatchUnquoted = on;
  }

  void batchDeletes(boolean on) {
    batchDeletes = on;
  }

  private String ifMatchHeader(String etag) {
    String bare = etag.length() >= 2 && etag.startsWith("\"") && etag.endsWith("\"")
        ? etag.substring(1, etag.length() - 1) : etag;
    return ifMatchUnquoted ? bare : "\"" + bare + "\"";
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
      try (ResponseInputStream<GetObjectResponse> in =
          s3.getObject(b -> b.bucket(config.bucket()).key(full(key)).range(range))) {
        if (in.response().contentRange() == null && offset > 0) {
          throw new ObjectStoreException(Kind.PERMANENT, 200, null, "GET " + describe() + " " + key + " " + range
              + ": the server ignored the Range header; use another S3 server (see docs/troubleshooting.md)", null);
        }
        int n = 0;
        for (ByteBuffer dst : dsts) {
          int r = readInto(in, dst);
          n += r;
          if (dst.hasRemaining()) {
            break; // the object ended
          }
        }
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
    return put(key, new ByteBuffer[] {data}, condition);
  }

  @Override
  public String put(String key, ByteBuffer[] data, WriteCondition condition) throws ObjectStoreException {
    long length = ByteBuffers.remaining(data);
    int[] attempts = {0};
    return retrier.call(Op.PUT, key, () -> {
      attempts[0]++;
      PutObjectRequest.Builder req = PutObjectRequest.builder().bucket(config.bucket()).key(full(key))
          .contentLength(length);
      if (condition.createOnly()) {
        req.ifNoneMatch("*");
      }
      if (condition.matchEtag() != null) {
        req.ifMatch(ifMatchHeader(condition.matchEtag()));
      }
      RequestBody body = RequestBody.fromContentProvider(
          () -> ByteBufferInputStream.of(data), length, "application/octet-stream");
      try {
        S3Client client = length >= BULK_BYTES && !condition.isConditional() ? bulk : s3;
        String etag = client.putObject(req.build(), body).eTag();
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
      } catch (SdkClientException e) {
        // A server may answer 412 before it reads the body and close the connection (s3proxy does), which the HTTP
        // client reports as a failed body write, on every retry. Ask the object itself whether the condition still
        // holds: if not, this is the precondition failure; if the bytes there are ours, an attempt got through.
        if (condition.isConditional()) {
          var now = conditionNow(key, data, condition);
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

  /**
   * Whether {@code condition} holds for {@code key} now: the stored ETag when the object already holds {@code data}
   * (an attempt of ours got through), FALSE when the object disproves it, TRUE when it holds, null when unknown.
   */
  private @Nullable Object conditionNow(String key, ByteBuffer[] data, WriteCondition condition) {
    Optional<String> etag;
    try {
      etag = Optional.of(s3.headObject(b -> b.bucket(config.bucket()).key(full(key))).eTag());
    } catch (S3Exception e) {
      if (e.statusCode() != 404) {
        return null;
      }
      etag = Optional.empty();
    } catch (RuntimeException e) {
      return null;
    }
    boolean holds = condition.createOnly() ? etag.isEmpty()
        : etag.isPresent() && unquoted(etag.get()).equals(unquoted(Objects.requireNonNull(condition.matchEtag())));
    if (holds) {
      return Boolean.TRUE;
    }
    String mine = etag.isPresent() ? storedEtagIfSame(key, data) : null;
    return mine != null ? mine : Boolean.FALSE;
  }

  private static String unquoted(String etag) {
    return etag.startsWith("\"") && etag.endsWith("\"") && etag.length() >= 2 ? etag.substring(1, etag.length() - 1)
        : etag;
  }

  private @Nullable String storedEtagIfSame(String key, ByteBuffer[] data) {
    try (ResponseInputStream<GetObjectResponse> in =
        s3.getObject(b -> b.bucket(config.bucket()).key(full(key)))) {
      byte[] stored = in.readAllBytes();
      return ByteBuffers.sameBytes(stored, data) ? in.response().eTag() : null;
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
    if (!batchDeletes) {
      deleteEach(keys);
      return;
    }
    int max = deleteBatch;
    List<String> batch = new ArrayList<>(Math.min(keys.size(), max));
    for (String key : keys) {
      batch.add(key);
      if (batch.size() == max) {
        deleteBatch(batch);
        batch = new ArrayList<>(max);
      }
    }
    if (!batch.isEmpty()) {
      deleteBatch(batch);
    }
  }

  void deleteEach(Collection<String> keys) throws ObjectStoreException {
    for (String key : keys) {
      delete(key);
    }
  }

  /** One DeleteObjects request (retried) for up to 1000 keys. */
  void deleteBatch(List<String> keys) throws ObjectStoreException {
    List<ObjectIdentifier> batch = keys.stream().map(k -> ObjectIdentifier.builder().key(full(k)).build()).toList();
    retrier.call(Op.DELETE, batch.size() + " keys", () -> {
      DeleteObjectsResponse r = s3.deleteObjects(b -> b.bucket(config.bucket())
          .delete(Delete.builder().objects(batch).quiet(true).build()));
      var errors = r.errors().stream().filter(e -> !"NoSuchKey".equals(e.code())).toList();
      if (!errors.isEmpty()) {
        var first = errors.getFirst();
        boolean transientError = "InternalError".equals(first.code()) || "SlowDown".equals(first.code())
            || "ServiceUnavailable".equals(first.code());
        String fix = S3Errors.fix(200, first.code());
        throw new ObjectStoreException(transientError ? Kind.TRANSIENT : Kind.PERMANENT, 200, first.code(),
            "DeleteObjects " + describe() + ": " + errors.size() + " of " + batch.size() + " keys not deleted, first "
                + first.key() + ": " + first.code() + " " + first.message() + (fix != null ? "; " + fix : ""), null);
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
    s3.close();
    if (bulk != s3) {
      bulk.close();
    }
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
