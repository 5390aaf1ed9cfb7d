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
import software.amazon.awssdk.http.AbortableInputStream;
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
 * The data path's ranged GETs (every chunk load, log read and random-read miss) without the SDK client's request
 * pipeline: the request (the object's URL and a Range header) is built here, signed by the SDK's SigV4 signer, sent by
 * the SDK's HTTP client, and its body read straight into the caller's buffers. In a new process against s3proxy the
 * client pipeline (interceptors, execution attributes, endpoint and auth-scheme resolution, metrics, unmarshalling)
 * took 5.9-9.5 ms of CPU per GET over the first 256 requests and 0.4-0.6 ms by the 4,000th; this path 1.5-2.1 and
 * 0.2-0.4 ms (docs/store.md).
 *
 * <p>The bucket's URL is the SDK's own ({@code S3Utilities.getUrl}, resolved once): path or virtual-host style, any
 * endpoint. A 200 or 206 answer is read here; any other becomes the {@link S3Exception} the client would have thrown
 * (status, the error code and message of the XML body, request id), so {@link S3Errors} classifies both the same. An
 * attempt still running after the attempt timeout is aborted and fails with an IOException, transient like the
 * client's own timeout. Thread safe.
 */
final class S3RangedGets {
  /** An error body is a few hundred bytes; read at most this much of one. */
  private static final int ERROR_BYTES = 64 << 10;

  private final SdkHttpClient http;
  private final AwsV4HttpSigner signer = AwsV4HttpSigner.create();
  private final AwsCredentialsProvider credentials;
  private final String region;
  private final Duration timeout;
  /** The URL of the bucket's keys: an encoded key appended is the object's URL. */
  private final String bucketUrl;

  /** GETs as {@code client} (built from {@code config}) would send them, over an HTTP client of the same config. */
  S3RangedGets(S3ObjectStore.Config config, S3Client client) {
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
    SdkHttpRequest request = SdkHttpRequest.builder()
        .method(SdkHttpMethod.GET)
        .uri(URI.create(bucketUrl + SdkHttpUtils.urlEncodeIgnoreSlashes(key)))
        .putHeader("Range", range)
        .build();
    AwsCredentialsIdentity identity = credentials.resolveCredentials();
    SdkHttpRequest signed = signer.sign(r -> r.identity(identity).request(request)
        .putProperty(AwsV4HttpSigner.REGION_NAME, region)
        .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, "s3")
        .putProperty(AwsV4HttpSigner.DOUBLE_URL_ENCODE, false)
        .putProperty(AwsV4HttpSigner.NORMALIZE_PATH, false)).request();
    ExecutableHttpRequest call = http.prepareRequest(HttpExecuteRequest.builder().request(signed).build());
    AtomicBoolean late = new AtomicBoolean();
    ScheduledFuture<?> timer = S3Clients.schedule(() -> {
      late.set(true);
      call.abort();
    }, timeout);
    try {
      HttpExecuteResponse response = call.call();
      SdkHttpResponse head = response.httpResponse();
      try (AbortableInputStream body = response.responseBody().orElse(null)) {
        int status = head.statusCode();
        if (status != 200 && status != 206) {
          throw error(head, body);
        }
        int n = 0;
        if (body != null) {
          for (ByteBuffer dst : dsts) {
            n += ByteBuffers.readFully(body, dst);
            if (dst.hasRemaining()) {
              break; // the object ended
            }
          }
        }
        return new Read(n, head.firstMatchingHeader("Content-Range").isPresent());
      }
    } catch (IOException e) {
      if (late.get()) {
        throw new IOException("GET " + key + " did not complete within the attempt timeout (" + timeout.toMillis()
            + " ms)", e);
      }
      throw e;
    } finally {
      timer.cancel(false);
    }
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
