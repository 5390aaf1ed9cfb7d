package io.bucketdisk.store.testing;

import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.object.ObjectStoreException;
import io.bucketdisk.store.object.RetryPolicy;
import io.bucketdisk.store.object.S3ObjectStore;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.reflect.Field;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import org.gaul.shaded.org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.gaul.shaded.org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.gaul.shaded.org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.jspecify.annotations.Nullable;

/**
 * An embedded s3proxy on {@code 127.0.0.1:<random port>} with an in-memory (or, given a directory, filesystem) blob
 * store and one bucket, {@link #bucket()}. Use it as a JUnit 5 extension, one per test class:
 *
 * <pre>{@code
 * @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();
 * ... S3.storeUrl("prefix/") ... S3.objectStore("prefix/") ...
 * }</pre>
 *
 * or as an {@link AutoCloseable} via {@link #start()}. Credentials are {@link #ACCESS_KEY}/{@link #SECRET_KEY}.
 * Stopping takes about 2 s (Jetty's graceful stop), so share one per class.
 *
 * <p>Unlike a bare s3proxy, it reads every request body to its end before answering, as S3 and Ceph RGW do
 * ({@link #readWholeBodies}).
 */
public final class S3ProxyFixture implements S3Server, AutoCloseable, BeforeAllCallback, AfterAllCallback {
  private static @Nullable S3ProxyFixture shared;
  public static final String ACCESS_KEY = "access";
  public static final String SECRET_KEY = "secret";
  public static final String REGION = "us-east-1";

  private final @Nullable Path directory;
  private final AtomicInteger buckets = new AtomicInteger();
  private @Nullable S3Proxy proxy;
  private @Nullable BlobStore blobStore;
  private @Nullable URI endpoint;

  /** An in-memory store (jimfs). */
  public S3ProxyFixture() {
    this(null);
  }

  /** A filesystem store under {@code directory} (which must exist), or in-memory when null. */
  public S3ProxyFixture(@Nullable Path directory) {
    this.directory = directory;
  }

  /** One in-memory s3proxy for the whole JVM (for {@link S3Server#all()}), stopped when the JVM exits. */
  public static synchronized S3ProxyFixture shared() {
    if (shared == null) {
      S3ProxyFixture f = new S3ProxyFixture();
      try {
        f.startProxy();
      } catch (Exception e) {
        throw new IllegalStateException("s3proxy did not start: " + e, e);
      }
      Runtime.getRuntime().addShutdownHook(new Thread(f::close, "s3proxy-stop"));
      shared = f;
    }
    return shared;
  }

  @Override
  public String name() {
    return "s3proxy";
  }

  @Override
  public String toString() {
    return name();
  }

  @Override
  public boolean atomicConditionalWrites() {
    return false;
  }

  @Override
  public boolean refusesStreamingUploads() {
    return false;
  }

  @Override
  public boolean comparesUnquotedEtags() {
    return false;
  }

  @Override
  public URI storeUrlVia(URI endpoint, String bucket, String prefix) {
    return storeUrl(endpoint, bucket, prefix);
  }

  /** Creates and starts an in-memory fixture. */
  public static S3ProxyFixture start() throws Exception {
    S3ProxyFixture f = new S3ProxyFixture();
    f.startProxy();
    return f;
  }

  /** Starts s3proxy and creates the default bucket; idempotent. */
  public synchronized void startProxy() throws Exception {
    if (proxy != null) {
      return;
    }
    BlobStore store = directory == null ? new TransientNio2BlobStore() : new FilesystemNio2BlobStore(directory.toString());
    S3Proxy p = S3Proxy.builder()
        .blobStore(store)
        .endpoint(URI.create("http://127.0.0.1:0"))
        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
        .build();
    readWholeBodies(p);
    p.start();
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!"STARTED".equals(p.getState())) {
      if (System.nanoTime() > deadline) {
        p.stop();
        throw new IllegalStateException("s3proxy did not start within 30 s (state " + p.getState() + ")");
      }
      Thread.sleep(5);
    }
    proxy = p;
    blobStore = store;
    endpoint = URI.create("http://127.0.0.1:" + p.getPort());
    store.createContainer(bucket());
  }

  /**
   * s3proxy (4.1.0) reads an aws-chunked PUT only up to its decoded length, leaving the zero-length chunk and the
   * checksum trailer unread (an empty object's whole body), and answers; Jetty then closes the connection, so a
   * client that has not written the rest yet fails with "Error writing request body to server" although the object
   * was stored. A cold gateway JVM against a warm s3proxy lost that race on every attempt of its start-up probe.
   * A filter around s3proxy's servlet reads what is left of the body before the exchange ends. Call before
   * {@code start()}; the benchmarks' s3proxy ({@code bench/CountingS3Proxy.java}) uses it too.
   */
  public static void readWholeBodies(S3Proxy proxy) throws ReflectiveOperationException {
    Field server = S3Proxy.class.getDeclaredField("server");
    server.setAccessible(true);
    Filter drain = (request, response, chain) -> {
      chain.doFilter(request, response);
      try {
        request.getInputStream().transferTo(OutputStream.nullOutputStream());
      } catch (IOException | IllegalStateException e) {
        // a client killed mid-body, or a body read as text: nothing left to read
      }
    };
    ((Server) server.get(proxy)).getDescendant(ServletContextHandler.class)
        .addFilter(new FilterHolder(drain), "/*", EnumSet.of(DispatcherType.REQUEST));
  }

  /** The default bucket's name. */
  @Override
  public String bucket() {
    return "bucketdisk";
  }

  /** Creates a fresh, empty bucket and returns its name (to isolate tests within a class). */
  @Override
  public String newBucket() {
    String name = "bucket-" + buckets.incrementAndGet();
    requireBlobStore().createContainer(name);
    return name;
  }

  /** {@code http://127.0.0.1:<port>}. */
  @Override
  public URI endpoint() {
    if (endpoint == null) {
      throw new IllegalStateException("S3ProxyFixture not started");
    }
    return endpoint;
  }

  /** The store URL of {@code prefix} in the default bucket, with credentials in the query. */
  @Override
  public URI storeUrl(String prefix) {
    return storeUrl(endpoint(), bucket(), prefix);
  }

  /**
   * The store URL of {@code prefix} in {@code bucket}, through {@code endpoint} (e.g. a {@link FaultyS3Proxy}).
   * It carries {@code accept-unfenced=true}: s3proxy's conditional writes are not atomic, so the store refuses to
   * open on it otherwise.
   */
  public static URI storeUrl(URI endpoint, String bucket, String prefix) {
    return storeUrl(endpoint, bucket, prefix, true);
  }

  /** As {@link #storeUrl(URI, String, String)}, with or without {@code accept-unfenced=true}. */
  public static URI storeUrl(URI endpoint, String bucket, String prefix, boolean acceptUnfenced) {
    return URI.create("s3://" + bucket + "/" + prefix + "?endpoint="
        + URLEncoder.encode(endpoint.toString(), StandardCharsets.UTF_8) + "&region=" + REGION
        + "&path-style=true&access-key=" + ACCESS_KEY + "&secret-key=" + SECRET_KEY
        + (acceptUnfenced ? "&accept-unfenced=true" : ""));
  }

  /** An {@link S3ObjectStore} on {@code prefix} of the default bucket, default retries. */
  public S3ObjectStore objectStore(String prefix) throws ObjectStoreException {
    return objectStore(endpoint(), bucket(), prefix, RetryPolicy.defaults(), StoreMetrics.NONE);
  }

  /** An {@link S3ObjectStore} on {@code bucket}/{@code prefix} through {@code endpoint}. */
  public static S3ObjectStore objectStore(URI endpoint, String bucket, String prefix, RetryPolicy retry,
      StoreMetrics metrics) throws ObjectStoreException {
    return new S3ObjectStore(S3ObjectStore.Config.of(bucket, prefix, endpoint, REGION, true, ACCESS_KEY, SECRET_KEY)
        .withRetry(retry).withAttemptTimeout(Duration.ofSeconds(10)).withAcceptUnfenced(true), metrics);
  }

  private BlobStore requireBlobStore() {
    if (blobStore == null) {
      throw new IllegalStateException("S3ProxyFixture not started");
    }
    return blobStore;
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    startProxy();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    close();
  }

  @Override
  public synchronized void close() {
    if (proxy != null) {
      try {
        proxy.stop();
      } catch (Exception e) {
        throw new IllegalStateException("s3proxy did not stop: " + e, e);
      } finally {
        proxy = null;
      }
    }
  }
}
