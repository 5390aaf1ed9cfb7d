package io.bucketdisk.store.object;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import org.jspecify.annotations.Nullable;
import org.w3c.dom.Document;
import org.w3c.dom.NodeList;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.checksums.DefaultChecksumAlgorithm;
import software.amazon.awssdk.http.AbortableInputStream;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.ExecutableHttpRequest;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.HttpExecuteResponse;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.SdkHttpResponse;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.utils.http.SdkHttpUtils;

/**
 * The data path's requests without the SDK client's request pipeline: ranged GETs (every chunk load, log read and
 * random-read miss) and unconditional PUTs (chunk objects, log segments). Each request (the object's URL, its headers)
 * is built here, signed by the SDK's SigV4 signer and sent by the SDK's HTTP client; a GET's body is read straight
 * into the caller's buffers. In a new process against s3proxy the client pipeline (interceptors, execution attributes,
 * endpoint and auth-scheme resolution, metrics, unmarshalling) took 5.9-9.5 ms of CPU per GET over the first 256
 * requests and 0.4-0.6 ms by the 4,000th; this path 1.5-2.1 and 0.2-0.4 ms (docs/store.md).
 *
 * <p>The bucket's URL is the SDK's own ({@code S3Utilities.getUrl}, resolved once): path or virtual-host style, any
 * endpoint. A PUT goes as a plain body, as the client's plain form does: the payload signed over http and unsigned
 * over https, with a CRC32 checksum header when request checksums are on. A 2xx answer is read here; any other becomes
 * the {@link S3Exception} the client would have thrown (status, the error code and message of the XML body, request
 * id), so {@link S3Errors} classifies both the same. An attempt still running after the attempt timeout is aborted and
 * fails with an IOException, transient like the client's own timeout. Thread safe.
 */
final class S3DataRequests {
  /** An error body is a few hundred bytes; read at most this much of one. */
  private static final int ERROR_BYTES = 64 << 10;

  private final SdkHttpClient http;
  private final AwsV4HttpSigner signer = AwsV4HttpSigner.create();
  private final AwsCredentialsProvider credentials;
  private final String region;
  private final Duration timeout;
  /** The URL of the bucket's keys: an encoded key appended is the object's URL. */
  private final String bucketUrl;

  /** Requests as {@code client} (built from {@code config}) would send them, over an HTTP client of the same config. */
  S3DataRequests(S3ObjectStore.Config config, S3Client client) {
    this.http = S3Clients.http(config);
    this.credentials = S3Clients.credentials(config);
    this.region = config.region();
    this.timeout = config.attemptTimeout();
    String one = client.utilities().getUrl(b -> b.bucket(config.bucket()).key("k")).toExternalForm();
    this.bucketUrl = one.substring(0, one.length() - 1);
  }

  /** What a GET read: its bytes, and whether the server answered the range (a Content-Range header). */
  record Read(int bytes, boolean ranged) {}

  /**
   * GETs {@code range} (a Range header value) of {@code key} (the bucket's full key) into {@code dsts}, filling each in
   * turn; fewer bytes when the object ends first. Throws the S3Exception of a server error, or an IOException.
   */
  Read read(String key, String range, ByteBuffer[] dsts) throws IOException {
    SdkHttpRequest signed = sign(request(SdkHttpMethod.GET, key).putHeader("Range", range), null, false);
    int[] n = {0};
    SdkHttpResponse head = exchange(key, HttpExecuteRequest.builder().request(signed).build(), body -> {
      for (ByteBuffer dst : dsts) {
        n[0] += ByteBuffers.readFully(body, dst);
        if (dst.hasRemaining()) {
          break; // the object ended
        }
      }
    });
    return new Read(n[0], head.firstMatchingHeader("Content-Range").isPresent());
  }

  /** Reads a 2xx answer's body (the caller's part of an exchange). */
  private interface BodyReader {
    void read(InputStream body) throws IOException;
  }

  /**
   * Sends {@code request}, lets {@code reader} read a 2xx answer's body (if any) and returns the answer's status and
   * headers; throws the S3Exception of any other answer. Aborted past the attempt timeout.
   */
  private SdkHttpResponse exchange(String key, HttpExecuteRequest request, BodyReader reader) throws IOException {
    ExecutableHttpRequest call = http.prepareRequest(request);
    AtomicBoolean late = new AtomicBoolean();
    ScheduledFuture<?> timer = S3Clients.schedule(() -> {
      late.set(true);
      call.abort();
    }, timeout);
    try {
      HttpExecuteResponse response = call.call();
      SdkHttpResponse head = response.httpResponse();
      try (AbortableInputStream body = response.responseBody().orElse(null)) {
        if (!head.isSuccessful()) {
          throw error(head, body);
        }
        if (body != null) {
          reader.read(body);
        }
        return head;
      }
    } catch (IOException e) {
      if (late.get()) {
        throw new IOException(request.httpRequest().method() + " " + key + " did not complete within the attempt"
            + " timeout (" + timeout.toMillis() + " ms)", e);
      }
      throw e;
    } finally {
      timer.cancel(false);
    }
  }

  /**
   * PUTs {@code data} (the remaining bytes of each buffer in turn; positions kept) as {@code key} (the bucket's full
   * key), with a CRC32 checksum header when {@code checksum}; returns the ETag the server gave. Throws the S3Exception
   * of a server error, or an IOException.
   */
  String put(String key, ByteBuffer[] data, long length, boolean checksum) throws IOException {
    SdkHttpRequest.Builder request = request(SdkHttpMethod.PUT, key)
        .putHeader("Content-Length", Long.toString(length))
        .putHeader("Content-Type", "application/octet-stream");
    if (checksum) {
      request.putHeader("x-amz-sdk-checksum-algorithm", "CRC32");
    }
    ContentStreamProvider body = () -> ByteBufferInputStream.of(data);
    SdkHttpRequest signed = sign(request, body, checksum);
    SdkHttpResponse head = exchange(key, HttpExecuteRequest.builder().request(signed).contentStreamProvider(body)
        .build(), in -> { });
    return head.firstMatchingHeader("ETag").orElse("");
  }

  /** A request for {@code key} (the bucket's full key, URL-encoded here). */
  private SdkHttpRequest.Builder request(SdkHttpMethod method, String key) {
    return SdkHttpRequest.builder().method(method)
        .uri(URI.create(bucketUrl + SdkHttpUtils.urlEncodeIgnoreSlashes(key)));
  }

  /**
   * {@code request} signed for S3 with the current credentials: with {@code payload} (null: none) unsigned over https
   * (the signer signs it anyway over http), and its CRC32 in a header when {@code checksum}.
   */
  private SdkHttpRequest sign(SdkHttpRequest.Builder request, @Nullable ContentStreamProvider payload,
      boolean checksum) {
    AwsCredentialsIdentity identity = credentials.resolveCredentials();
    return signer.sign(r -> {
      r.identity(identity).request(request.build())
          .putProperty(AwsV4HttpSigner.REGION_NAME, region)
          .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, "s3")
          .putProperty(AwsV4HttpSigner.DOUBLE_URL_ENCODE, false)
          .putProperty(AwsV4HttpSigner.NORMALIZE_PATH, false);
      if (payload != null) {
        r.payload(payload).putProperty(AwsV4HttpSigner.PAYLOAD_SIGNING_ENABLED, false);
      }
      if (checksum) {
        r.putProperty(AwsV4HttpSigner.CHECKSUM_ALGORITHM, DefaultChecksumAlgorithm.CRC32);
      }
    }).request();
  }

  /** The exception the SDK client throws for this answer: status, error code and message, request id. */
  private static S3Exception error(SdkHttpResponse head, @Nullable InputStream body) throws IOException {
    byte[] xml = body == null ? new byte[0] : body.readNBytes(ERROR_BYTES);
    String code = element(xml, "Code");
    String message = element(xml, "Message");
    String requestId = head.firstMatchingHeader("x-amz-request-id").orElse(null);
    AwsErrorDetails details = AwsErrorDetails.builder().errorCode(code).errorMessage(message).serviceName("S3")
        .sdkHttpResponse(head).build();
    return (S3Exception) S3Exception.builder()
        .statusCode(head.statusCode())
        .awsErrorDetails(details)
        .requestId(requestId)
        .message((message != null ? message : "HTTP " + head.statusCode()) + " (Service: S3, Status Code: "
            + head.statusCode() + ", Request ID: " + requestId + ")")
        .build();
  }

  /** The text of the first {@code name} element of an S3 error document, or null (no body, not XML, no such element). */
  private static @Nullable String element(byte[] xml, String name) {
    if (xml.length == 0) {
      return null;
    }
    try {
      DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
      f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
      f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      Document doc = f.newDocumentBuilder().parse(new ByteArrayInputStream(xml));
      NodeList nodes = doc.getElementsByTagName(name);
      return nodes.getLength() == 0 ? null : nodes.item(0).getTextContent();
    } catch (Exception e) {
      return null; // not an error document: the status says what happened
    }
  }
}
