import com.sun.net.httpserver.HttpServer;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.concurrent.atomic.LongAdder;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.blobstore.ForwardingBlobStore;
import org.gaul.s3proxy.blobstore.domain.MultipartUpload;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.services.s3.model.CreateBucketRequest;
import software.amazon.awssdk.services.s3.model.DeleteObjectRequest;
import software.amazon.awssdk.services.s3.model.DeleteObjectResponse;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.PutObjectResponse;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/**
 * The benchmarks' S3 server: an s3proxy on 127.0.0.1 (filesystem blob store under {@code args[0]}, bucket {@code
 * bucketdisk}, access key {@code access}, secret {@code secret}) that counts, on the server side, what every client
 * asks of it: GETs and the body bytes it actually streamed out, PUTs (multipart parts included) and the body bytes it
 * received, object DELETEs (one per key, also inside a DeleteObjects batch), HEADs and LISTs. Counting behind the
 * S3 API means bucketdisk and s3backer are measured by the same meter.
 *
 * <p>Writes {@code s3=http://127.0.0.1:PORT} and {@code counters=http://127.0.0.1:PORT2/} to {@code args[1]} once
 * both listen. {@code GET /} on the counter port answers one {@code name value} line per counter; runs until killed.
 * Run with Java's source launcher on the store module's test class path (see bench/engine-bench.sh).
 */
public final class CountingS3Proxy {
  private static final LongAdder GETS = new LongAdder();
  private static final LongAdder GET_BYTES = new LongAdder();
  private static final LongAdder PUTS = new LongAdder();
  private static final LongAdder PUT_BYTES = new LongAdder();
  private static final LongAdder DELETES = new LongAdder();
  private static final LongAdder HEADS = new LongAdder();
  private static final LongAdder LISTS = new LongAdder();

  private CountingS3Proxy() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: CountingS3Proxy BLOB_DIR ENDPOINT_FILE");
      System.exit(2);
    }
    Path dir = Path.of(args[0]);
    Files.createDirectories(dir);
    BlobStore store = new Counting(new FilesystemNio2BlobStore(dir.toString()));
    S3Proxy proxy = S3Proxy.builder()
        .blobStore(store)
        .endpoint(URI.create("http://127.0.0.1:0"))
        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, "access", "secret")
        .build();
    // as S3 and Ceph RGW do: without it s3proxy cuts aws-chunked PUTs short and clients retry (see S3ProxyFixture)
    io.bucketdisk.store.testing.S3ProxyFixture.readWholeBodies(proxy);
    proxy.start();
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!"STARTED".equals(proxy.getState())) {
      if (System.nanoTime() > deadline) {
        System.err.println("s3proxy did not start within 60 s (state " + proxy.getState() + ")");
        System.exit(1);
      }
      Thread.sleep(10);
    }
    store.createContainer(CreateBucketRequest.builder().bucket("bucketdisk").build());

    HttpServer counters = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    counters.createContext("/", exchange -> {
      byte[] body = ("gets " + GETS.sum() + "\nget_bytes " + GET_BYTES.sum() + "\nputs " + PUTS.sum()
          + "\nput_bytes " + PUT_BYTES.sum() + "\ndeletes " + DELETES.sum() + "\nheads " + HEADS.sum()
          + "\nlists " + LISTS.sum() + "\n").getBytes(StandardCharsets.US_ASCII);
      exchange.sendResponseHeaders(200, body.length);
      try (var out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    counters.start();

    Path out = Path.of(args[1]).toAbsolutePath();
    Path tmp = Files.createTempFile(out.getParent(), "endpoint", ".tmp");
    Files.writeString(tmp, "s3=http://127.0.0.1:" + proxy.getPort() + "\ncounters=http://127.0.0.1:"
        + counters.getAddress().getPort() + "/\n");
    Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE);
    Thread.sleep(Long.MAX_VALUE);
  }

  /** Counts the requests that reach the blob store and the body bytes that cross it. */
  private static final class Counting extends ForwardingBlobStore {
    Counting(BlobStore delegate) {
      super(delegate);
    }

    @Override
    public ResponseInputStream<GetObjectResponse> getBlob(GetObjectRequest request) {
      GETS.increment();
      ResponseInputStream<GetObjectResponse> in = super.getBlob(request);
      if (in == null) {
        return null;
      }
      return new ResponseInputStream<>(in.response(), new CountingStream(in, GET_BYTES));
    }

    @Override
    public PutObjectResponse putBlob(PutObjectRequest request, InputStream body) {
      PUTS.increment();
      return super.putBlob(request, new CountingStream(body, PUT_BYTES));
    }

    @Override
    public UploadPartResponse uploadMultipartPart(MultipartUpload upload, UploadPartRequest request,
        InputStream body) {
      PUTS.increment();
      return super.uploadMultipartPart(upload, request, new CountingStream(body, PUT_BYTES));
    }

    @Override
    public DeleteObjectResponse removeBlob(DeleteObjectRequest request) {
      DELETES.increment();
      return super.removeBlob(request);
    }

    @Override
    public HeadObjectResponse blobMetadata(HeadObjectRequest request) {
      HEADS.increment();
      return super.blobMetadata(request);
    }

    @Override
    public ListObjectsV2Response list(ListObjectsV2Request request) {
      LISTS.increment();
      return super.list(request);
    }
  }

  /** Adds every byte read through it to a counter. */
  private static final class CountingStream extends FilterInputStream {
    private final LongAdder bytes;

    CountingStream(InputStream in, LongAdder bytes) {
      super(in);
      this.bytes = bytes;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        bytes.increment();
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n > 0) {
        bytes.add(n);
      }
      return n;
    }
  }
}
