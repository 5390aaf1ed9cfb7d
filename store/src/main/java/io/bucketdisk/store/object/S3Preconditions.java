package io.bucketdisk.store.object;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * The conditions of the PUTs of one {@link S3ObjectStore}: the {@code If-None-Match} and {@code If-Match} headers,
 * the ETag in the form the server compares (quoted unless the probe found it wants it bare), and, when an attempt's
 * outcome was lost, what the object itself says about the condition. Keys here are the server's (prefix included).
 * Thread safe: the quoting is switched only by the probe, before the store is shared. The caller's data buffers are
 * only read (their positions do not move). Throws nothing: a check that fails answers "unknown" (null).
 */
final class S3Preconditions {
  private final S3Connection connection;
  private final String bucket;
  private volatile boolean ifMatchUnquoted;

  S3Preconditions(S3Connection connection, String bucket) {
    this.connection = connection;
    this.bucket = bucket;
  }

  void ifMatchUnquoted(boolean on) {
    ifMatchUnquoted = on;
  }

  /** Sets the headers of {@code condition} on {@code req}. */
  void addTo(PutObjectRequest.Builder req, WriteCondition condition) {
    if (condition.createOnly()) {
      req.ifNoneMatch("*");
    }
    if (condition.matchEtag() != null) {
      String bare = unquoted(condition.matchEtag());
      req.ifMatch(ifMatchUnquoted ? bare : "\"" + bare + "\"");
    }
  }

  /**
   * Whether {@code condition} holds for {@code key} now: the stored ETag when the object already holds {@code data}
   * (an attempt of ours got through), FALSE when the object disproves it, TRUE when it holds, null when unknown.
   */
  @Nullable Object conditionNow(String key, ByteBuffer[] data, WriteCondition condition) {
    Optional<String> etag;
    try {
      etag = Optional.of(connection.client().headObject(b -> b.bucket(bucket).key(key)).eTag());
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

  /** The ETag of {@code key} when it holds exactly {@code data}; null when not, or when it cannot be read. */
  @Nullable String storedEtagIfSame(String key, ByteBuffer[] data) {
    try (ResponseInputStream<GetObjectResponse> in = connection.client().getObject(b -> b.bucket(bucket).key(key))) {
      byte[] stored = in.readAllBytes();
      return ByteBuffers.sameBytes(stored, data) ? in.response().eTag() : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static String unquoted(String etag) {
    return etag.startsWith("\"") && etag.endsWith("\"") && etag.length() >= 2 ? etag.substring(1, etag.length() - 1)
        : etag;
  }
}
