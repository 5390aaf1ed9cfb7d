package io.bucketdisk.store.object;

import io.bucketdisk.store.StoreException.Kind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import javax.net.ssl.SSLException;
import org.jspecify.annotations.Nullable;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkServiceException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * The one place that turns what an S3 server or the HTTP client threw into an {@link ObjectStoreException}: the kind
 * (transient, conflict, permanent), the server's own error code and message, and the fix that fits that code. The
 * message reaches the operator unchanged through the CLI, the gateway log and CSI errors, so it names the fix.
 */
final class S3Errors {
  private S3Errors() {}

  static ObjectStoreException classify(String what, @Nullable String endpoint, Exception e) {
    if (e instanceof SdkServiceException se) {
      int status = se.statusCode();
      String code = null;
      String serverMessage = null;
      if (e instanceof S3Exception s3e && s3e.awsErrorDetails() != null) {
        code = s3e.awsErrorDetails().errorCode();
        serverMessage = s3e.awsErrorDetails().errorMessage();
      }
      StringBuilder msg = new StringBuilder(what).append(": HTTP ").append(status);
      if (code != null && !code.isBlank()) {
        msg.append(' ').append(code);
      }
      if (serverMessage != null && !serverMessage.isBlank()) {
        msg.append(" \"").append(serverMessage.strip()).append('"');
      }
      Kind kind = kind(status, code, se.isThrottlingException());
      String fix = fix(status, code);
      if (fix != null) {
        msg.append("; ").append(fix);
      }
      return new ObjectStoreException(kind, status, code, msg.toString(), e);
    }
    Throwable tls = cause(e, SSLException.class);
    if (tls != null) {
      return new ObjectStoreException(Kind.PERMANENT, 0, null, what + ": TLS failed: " + tls.getMessage()
          + "; if the endpoint uses a private CA, add ca-bundle=/path/to/ca.pem to the store URL", e);
    }
    if (e instanceof SdkClientException || e instanceof IOException || e instanceof UncheckedIOException) {
      String hint = cause(e, UnknownHostException.class) != null ? "; check the endpoint's host name"
          : cause(e, ConnectException.class) != null ? "; is the S3 server at " + endpoint + " running and reachable?"
          : "";
      return new ObjectStoreException(Kind.TRANSIENT, 0, null, what + ": " + e.getMessage() + hint, e);
    }
    return new ObjectStoreException(Kind.PERMANENT, 0, null, what + ": " + e, e);
  }

  private static Kind kind(int status, @Nullable String code, boolean throttling) {
    if (status == 412) {
      return Kind.CONFLICT;
    }
    boolean retryable = status >= 500 && status != 501 || status == 429 || status == 409 || throttling
        || "SlowDown".equals(code) || "RequestTimeout".equals(code) || "Throttling".equals(code)
        || "RequestTimeTooSkewed".equals(code);
    return retryable ? Kind.TRANSIENT : Kind.PERMANENT;
  }

  /** The fix for a server error code (or, for bodiless HEAD errors, the status), or null when there is none. */
  static @Nullable String fix(int status, @Nullable String code) {
    if (code != null) {
      switch (code) {
        case "XAmzContentSHA256Mismatch", "InvalidDigest", "BadDigest":
          return "the server rejects this upload form (aws-chunked body or request checksum); the start-up probe picks "
              + "one it takes (checksum=auto); if this persists, set checksum=when-required in the store URL";
        case "PreconditionFailed":
          return "another writer changed the object first (or the server compares If-Match differently: the store's "
              + "start-up line says which form it uses)";
        case "AccessDenied", "AllAccessDisabled":
          return "the key lacks a permission: it needs s3:ListBucket on the bucket and s3:GetObject, s3:PutObject, "
              + "s3:DeleteObject on the prefix";
        case "NoSuchBucket":
          return "create the bucket, or fix its name in the store URL";
        case "InvalidAccessKeyId":
          return "this server does not know the access key: check access-key (or AWS_ACCESS_KEY_ID) and that the "
              + "endpoint is the server the key belongs to";
        case "SignatureDoesNotMatch":
          return "the secret key is wrong (check secret-key or AWS_SECRET_ACCESS_KEY), or a proxy rewrites requests";
        case "AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException":
          return "the bucket lives in another region: set region= in the store URL to the bucket's region";
        case "RequestTimeTooSkewed":
          return "this machine's clock is more than 15 minutes off the server's: fix time sync (NTP)";
        case "InvalidBucketName":
          return "the bucket name is not valid for this server: fix it in the store URL";
        case "QuotaExceeded":
          return "the bucket or user quota is full: raise the quota or free space";
        case "NotImplemented":
          return "the server lacks this S3 feature; see docs/troubleshooting.md for your server";
        case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling":
          return "the server is overloaded or failing; bucketdisk retried with backoff";
        default:
          break;
      }
    }
    return switch (status) {
      case 301 -> "the bucket lives in another region: set region= in the store URL to the bucket's region";
      case 403 -> "check the credentials (access-key/secret-key or the AWS chain) and the key's permissions";
      case 404 -> null;
      default -> null;
    };
  }

  private static @Nullable Throwable cause(Throwable t, Class<? extends Throwable> type) {
    Throwable r = t;
    for (int i = 0; i < 10 && r != null; i++, r = r.getCause()) {
      if (type.isInstance(r)) {
        return r;
      }
    }
    return null;
  }
}
