package io.bucketdisk.store.object;

import io.bucketdisk.store.StoreException;
import io.bucketdisk.store.StoreMetrics;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Opens an {@link ObjectStore} from a store URL:
 *
 * <ul>
 *   <li>{@code file:///abs/dir} — {@link DirectoryObjectStore} rooted at {@code /abs/dir} (created if missing);
 *       {@code ?fsync=false} skips fsync (tests and benchmarks only: acknowledged writes may be lost in a crash);
 *   <li>{@code s3://bucket/prefix?endpoint=http://host:port&region=us-east-1&path-style=true} — {@link
 *       S3ObjectStore}; credentials from the query ({@code access-key}, {@code secret-key}), else the AWS default
 *       chain (env {@code AWS_ACCESS_KEY_ID}/{@code AWS_SECRET_ACCESS_KEY}, profile, instance role). The region
 *       defaults to {@code AWS_REGION}, else {@code us-east-1}; {@code path-style} to true when an endpoint is given.
 *       What the start-up probe cannot find out: {@code checksum=auto|when-supported|when-required} (request
 *       checksums; auto probes), {@code request-timeout=30s} (one attempt; {@code ms}, {@code s} or {@code m}),
 *       {@code ca-bundle=/path/ca.pem} (the CAs an https endpoint is checked against), {@code accept-unfenced=true}
 *       (use a server whose conditional writes are not atomic).
 * </ul>
 *
 * Bad URLs throw {@link IllegalArgumentException} with a one-line message naming the fix. Opening an S3 store runs
 * its compatibility probe ({@link S3ObjectStore}).
 */
public final class ObjectStores {
  private static final Set<String> S3_PARAMS = new TreeSet<>(Set.of("endpoint", "region", "path-style", "access-key",
      "secret-key", "checksum", "request-timeout", "ca-bundle", "accept-unfenced"));

  private ObjectStores() {}

  public static ObjectStore open(URI url, StoreMetrics metrics) throws StoreException {
    String scheme = url.getScheme();
    if (scheme == null) {
      throw new IllegalArgumentException("store URL '" + redact(url) + "' has no scheme; use file:///abs/dir or "
          + "s3://bucket/prefix?endpoint=http://host:port");
    }
    return switch (scheme) {
      case "file" -> openDirectory(url, metrics);
      case "s3" -> new S3ObjectStore(parseS3(url), metrics);
      default -> throw new IllegalArgumentException("store URL scheme '" + scheme + "' is not supported; use file:///"
          + "abs/dir or s3://bucket/prefix");
    };
  }

  private static ObjectStore openDirectory(URI url, StoreMetrics metrics) throws StoreException {
    String path = url.getPath();
    if (url.getAuthority() != null && !url.getAuthority().isEmpty()) {
      throw new IllegalArgumentException("store URL '" + url + "' has a host; write file:///abs/dir (three slashes)");
    }
    if (path == null || !path.startsWith("/") || path.equals("/")) {
      throw new IllegalArgumentException("store URL '" + url + "' needs an absolute directory: file:///abs/dir");
    }
    Map<String, String> q = query(url);
    for (String k : q.keySet()) {
      if (!k.equals("fsync")) {
        throw new IllegalArgumentException("store URL parameter '" + k + "' is unknown for file:// (known: fsync)");
      }
    }
    String fsync = q.getOrDefault("fsync", "true");
    if (!fsync.equals("true") && !fsync.equals("false")) {
      throw new IllegalArgumentException("store URL parameter fsync must be true or false, not '" + fsync + "'");
    }
    return new DirectoryObjectStore(Path.of(path), Boolean.parseBoolean(fsync), metrics);
  }

  /** Parses an {@code s3://} URL; public for the CLI's validation of flags. */
  public static S3ObjectStore.Config parseS3(URI url) {
    String bucket = url.getHost() != null ? url.getHost() : url.getAuthority();
    if (bucket == null || bucket.isEmpty()) {
      throw new IllegalArgumentException("store URL '" + redact(url) + "' has no bucket; write s3://bucket/prefix");
    }
    String prefix = url.getPath() == null ? "" : url.getPath();
    if (prefix.startsWith("/")) {
      prefix = prefix.substring(1);
    }
    Map<String, String> q = query(url);
    for (String k : q.keySet()) {
      if (!S3_PARAMS.contains(k)) {
        throw new IllegalArgumentException("store URL parameter '" + k + "' is unknown; known: " + S3_PARAMS);
      }
    }
    URI endpoint = null;
    if (q.containsKey("endpoint")) {
      try {
        endpoint = new URI(q.get("endpoint"));
      } catch (java.net.URISyntaxException e) {
        endpoint = null;
      }
      if (endpoint == null || endpoint.getScheme() == null || !(endpoint.getScheme().equals("http")
          || endpoint.getScheme().equals("https")) || endpoint.getHost() == null) {
        throw new IllegalArgumentException("store URL endpoint '" + q.get("endpoint")
            + "' must be http://host:port or https://host:port");
      }
    }
    String region = q.getOrDefault("region", envOr("AWS_REGION", "us-east-1"));
    String pathStyleValue = q.getOrDefault("path-style", endpoint != null ? "true" : "false");
    if (!pathStyleValue.equals("true") && !pathStyleValue.equals("false")) {
      throw new IllegalArgumentException("store URL parameter path-style must be true or false, not '"
          + pathStyleValue + "'");
    }
    String accessKey = q.get("access-key");
    String secretKey = q.get("secret-key");
    if ((accessKey == null) != (secretKey == null)) {
      throw new IllegalArgumentException("store URL needs both access-key and secret-key, or neither (then the "
          + "AWS default credentials chain is used)");
    }
    var config = S3ObjectStore.Config.of(bucket, prefix, endpoint, region, Boolean.parseBoolean(pathStyleValue),
        accessKey, secretKey);
    String checksum = q.getOrDefault("checksum", "auto");
    config = config.withChecksum(switch (checksum) {
      case "auto" -> S3ObjectStore.ChecksumMode.AUTO;
      case "when-supported" -> S3ObjectStore.ChecksumMode.WHEN_SUPPORTED;
      case "when-required" -> S3ObjectStore.ChecksumMode.WHEN_REQUIRED;
      default -> throw new IllegalArgumentException("store URL parameter checksum must be auto, when-supported or "
          + "when-required, not '" + checksum + "'");
    });
    if (q.containsKey("request-timeout")) {
      config = config.withAttemptTimeout(timeout(q.get("request-timeout")));
    }
    if (q.containsKey("ca-bundle")) {
      Path ca = Path.of(q.get("ca-bundle"));
      if (!ca.isAbsolute() || !Files.isReadable(ca)) {
        throw new IllegalArgumentException("store URL parameter ca-bundle '" + ca + "' must be an absolute path to "
            + "a readable PEM file");
      }
      if (endpoint == null || !endpoint.getScheme().equals("https")) {
        throw new IllegalArgumentException("store URL parameter ca-bundle needs an https:// endpoint");
      }
      config = config.withCaBundle(ca);
    }
    String accept = q.getOrDefault("accept-unfenced", "false");
    if (!accept.equals("true") && !accept.equals("false")) {
      throw new IllegalArgumentException("store URL parameter accept-unfenced must be true or false, not '" + accept
          + "'");
    }
    return config.withAcceptUnfenced(Boolean.parseBoolean(accept));
  }

  /** {@code 500ms}, {@code 30s} or {@code 2m}, between 1 s and 10 min. */
  static Duration timeout(String value) {
    var m = java.util.regex.Pattern.compile("(\\d{1,6})(ms|s|m)").matcher(value);
    if (!m.matches()) {
      throw new IllegalArgumentException("store URL parameter request-timeout '" + value + "' must look like 500ms, "
          + "30s or 2m");
    }
    long n = Long.parseLong(m.group(1));
    Duration d = switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      default -> Duration.ofMinutes(n);
    };
    if (d.compareTo(Duration.ofSeconds(1)) < 0 || d.compareTo(Duration.ofMinutes(10)) > 0) {
      throw new IllegalArgumentException("store URL parameter request-timeout must be between 1s and 10m, not "
          + value);
    }
    return d;
  }

  private static Map<String, String> query(URI url) {
    Map<String, String> out = new HashMap<>();
    String raw = url.getRawQuery();
    if (raw == null || raw.isEmpty()) {
      return out;
    }
    for (String part : raw.split("&")) {
      int eq = part.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("store URL query part '" + part.replaceAll("=.*", "=…")
            + "' is not name=value");
      }
      out.put(URLDecoder.decode(part.substring(0, eq), StandardCharsets.UTF_8),
          URLDecoder.decode(part.substring(eq + 1), StandardCharsets.UTF_8));
    }
    return out;
  }

  /** The URL without its query (which may hold a secret key), for messages. */
  public static String redact(URI url) {
    return redact(url.toString());
  }

  /** A store URL as the user typed it, without its query (which may hold a secret key), for messages. */
  public static String redact(String url) {
    int q = url.indexOf('?');
    return q < 0 ? url : url.substring(0, q) + "?…";
  }

  private static String envOr(String name, String dflt) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? dflt : v;
  }
}
