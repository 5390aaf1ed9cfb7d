package io.bucketdisk.store.object;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.store.StoreException.Kind;
import java.net.ConnectException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/** Every S3 error code gets the server's code and message and the fix that fits it, in one line. */
class S3ErrorsTest {

  static S3Exception error(int status, String code, String message) {
    return (S3Exception) S3Exception.builder().statusCode(status)
        .awsErrorDetails(AwsErrorDetails.builder().errorCode(code).errorMessage(message).build()).build();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', textBlock = """
      400 | XAmzContentSHA256Mismatch    | PERMANENT | checksum=when-required
      412 | PreconditionFailed           | CONFLICT  | another writer changed the object
      403 | AccessDenied                 | PERMANENT | s3:PutObject
      404 | NoSuchBucket                 | PERMANENT | create the bucket
      403 | InvalidAccessKeyId           | PERMANENT | does not know the access key
      403 | SignatureDoesNotMatch        | PERMANENT | secret key is wrong
      400 | AuthorizationHeaderMalformed | PERMANENT | set region=
      301 | PermanentRedirect            | PERMANENT | set region=
      403 | RequestTimeTooSkewed         | TRANSIENT | NTP
      403 | QuotaExceeded                | PERMANENT | quota
      503 | SlowDown                     | TRANSIENT | overloaded
      500 | InternalError                | TRANSIENT | overloaded
      501 | NotImplemented               | PERMANENT | docs/troubleshooting.md
      """)
  void codeMessageAndFix(int status, String code, Kind kind, String fix) {
    ObjectStoreException e = S3Errors.classify("PUT s3://b/p k", "http://h:1",
        error(status, code, "the server's own words"));
    assertThat(e.kind()).isEqualTo(kind);
    assertThat(e.errorCode()).isEqualTo(code);
    assertThat(e.httpStatus()).isEqualTo(status);
    assertThat(e.getMessage()).startsWith("PUT s3://b/p k: HTTP " + status + " " + code + " \"the server's own words\"")
        .contains(fix).doesNotContain("\n");
  }

  @Test
  void bodilessErrorsFallBackToTheStatus() {
    ObjectStoreException e = S3Errors.classify("HEAD s3://b/p k", "http://h:1",
        (S3Exception) S3Exception.builder().statusCode(403).build());
    assertThat(e.getMessage()).isEqualTo("HEAD s3://b/p k: HTTP 403; check the credentials (access-key/secret-key "
        + "or the AWS chain) and the key's permissions");
  }

  @Test
  void connectionAndTlsFailuresNameTheFix() {
    ObjectStoreException refused = S3Errors.classify("GET x", "http://127.0.0.1:1",
        SdkClientException.create("Unable to execute HTTP request", new ConnectException("Connection refused")));
    assertThat(refused.isTransient()).isTrue();
    assertThat(refused.getMessage()).contains("is the S3 server at http://127.0.0.1:1 running and reachable?");
    ObjectStoreException tls = S3Errors.classify("GET x", "https://h:1",
        SdkClientException.create("Unable to execute HTTP request", new SSLHandshakeException("PKIX path building")));
    assertThat(tls.isTransient()).isFalse();
    assertThat(tls.getMessage()).contains("TLS failed").contains("ca-bundle=/path/to/ca.pem");
  }
}
