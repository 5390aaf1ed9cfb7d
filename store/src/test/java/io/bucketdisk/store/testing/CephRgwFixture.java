package io.bucketdisk.store.testing;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import io.bucketdisk.testing.Requirement;
import io.bucketdisk.testing.Tool;
import org.jspecify.annotations.Nullable;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A real Ceph RADOS Gateway (Debian 12's Ceph 16.2: one monitor, one BlueStore OSD on a sparse file, radosgw, all on
 * 127.0.0.1, no cephx) as the second S3 server of the tests. One per JVM ({@link #shared()}): the first use runs
 * {@code scripts/ceph-rgw.sh start} in a temporary directory (bounded by {@link #START_TIMEOUT}) and a shutdown hook
 * runs {@code stop}. When the environment names a running one ({@value #ENV}, the line {@code ceph-rgw.sh start}
 * printed; {@code scripts/test.sh} starts one for the whole run and sets it), that one is used and left running.
 *
 * <p>When Ceph is not installed, {@link #shared()} skips the test naming the fix ({@code scripts/setup.sh}), and
 * fails it under {@code scripts/test.sh} ({@link Requirement}).
 */
public final class CephRgwFixture implements S3Server {
  /** The environment variable that names a running gateway: {@code endpoint=... access-key=... secret-key=...}. */
  public static final String ENV = "BUCKETDISK_CEPH_RGW";
  static final Duration START_TIMEOUT = Duration.ofSeconds(240);
  private static final String REGION = "us-east-1";
  private static @Nullable CephRgwFixture shared;
  private static @Nullable RuntimeException startFailure;

  private final URI endpoint;
  private final String accessKey;
  private final String secretKey;
  private final @Nullable Path dir;
  private final S3Client admin;
  private final AtomicInteger buckets = new AtomicInteger();
  private final String bucketPrefix = "bd" + Long.toHexString(System.nanoTime() & 0xffffffL) + "-";

  private CephRgwFixture(String line, @Nullable Path dir) {
    Map<String, String> kv = new HashMap<>();
    for (String part : line.trim().split("\\s+")) {
      int eq = part.indexOf('=');
      if (eq > 0) {
        kv.put(part.substring(0, eq), part.substring(eq + 1));
      }
    }
    if (!kv.containsKey("endpoint") || !kv.containsKey("access-key") || !kv.containsKey("secret-key")) {
      throw new IllegalStateException("Ceph RGW: cannot parse '" + line + "'; expected endpoint=... access-key=... "
          + "secret-key=...");
    }
    this.endpoint = URI.create(kv.get("endpoint"));
    this.accessKey = kv.get("access-key");
    this.secretKey = kv.get("secret-key");
    this.dir = dir;
    this.admin = S3Client.builder().endpointOverride(endpoint).region(Region.of(REGION)).forcePathStyle(true)
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, secretKey)))
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .httpClient(UrlConnectionHttpClient.create()).build();
    admin.createBucket(b -> b.bucket(bucket()));
  }

  /** The gateway of this run: the one {@value #ENV} names, else one started now (and stopped at JVM exit). */
  public static synchronized CephRgwFixture shared() {
    if (shared != null) {
      return shared;
    }
    if (startFailure != null) {
      throw startFailure;
    }
    try {
      String env = System.getenv(ENV);
      shared = env != null && !env.isBlank() ? new CephRgwFixture(env, null) : start();
      return shared;
    } catch (IllegalStateException e) {
      startFailure = e;
      throw e;
    }
  }

  private static CephRgwFixture start() {
    Path script = script();
    for (String tool : java.util.List.of("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin")) {
      Tool.require(tool);
    }
    Path dir;
    try {
      dir = Files.createTempDirectory("bucketdisk-ceph-");
      Files.delete(dir); // the script wants to create it
    } catch (IOException e) {
      throw new IllegalStateException("Ceph RGW: no temporary directory: " + e, e);
    }
    Path log = dir.resolveSibling(dir.getFileName() + ".start.log");
    long t0 = System.nanoTime();
    String out = run(script, log, "start", dir.toString());
    CephRgwFixture f = new CephRgwFixture(lastLine(out), dir);
    System.err.printf("Ceph RGW started in %.1f s at %s (%s)%n", (System.nanoTime() - t0) / 1e9, f.endpoint, dir);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      f.admin.close();
      run(script, log, "stop", dir.toString());
    }, "ceph-rgw-stop"));
    return f;
  }

  private static String run(Path script, Path log, String... args) {
    try {
      var cmd = new java.util.ArrayList<String>();
      cmd.add("bash");
      cmd.add(script.toString());
      cmd.addAll(java.util.List.of(args));
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      if (!p.waitFor(START_TIMEOUT.toSeconds() + 30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("Ceph RGW: " + script + " " + args[0] + " did not finish; see " + log);
      }
      String out = Files.readString(log);
      if (p.exitValue() != 0) {
        throw new IllegalStateException("Ceph RGW: " + script + " " + String.join(" ", args) + " failed (exit "
            + p.exitValue() + "): " + out.strip());
      }
      return out;
    } catch (IOException e) {
      throw new IllegalStateException("Ceph RGW: cannot run " + script + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Ceph RGW: interrupted", e);
    }
  }

  private static String lastLine(String out) {
    String[] lines = out.strip().split("\n");
    return lines[lines.length - 1];
  }

  /** {@code scripts/ceph-rgw.sh} of this checkout, found upwards from the working directory. */
  static Path script() {
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      Path s = d.resolve("scripts/ceph-rgw.sh");
      if (Files.isRegularFile(s)) {
        return s;
      }
    }
    throw new IllegalStateException("Ceph RGW: scripts/ceph-rgw.sh not found above " + Path.of("").toAbsolutePath());
  }

  @Override
  public String name() {
    return "ceph-rgw";
  }

  @Override
  public URI endpoint() {
    return endpoint;
  }

  @Override
  public String bucket() {
    return bucketPrefix + "main";
  }

  @Override
  public String newBucket() {
    String name = bucketPrefix + buckets.incrementAndGet();
    admin.createBucket(b -> b.bucket(name));
    return name;
  }

  @Override
  public URI storeUrlVia(URI via, String bucket, String prefix) {
    return URI.create("s3://" + bucket + "/" + prefix + "?endpoint="
        + URLEncoder.encode(via.toString(), StandardCharsets.UTF_8) + "&region=" + REGION
        + "&path-style=true&access-key=" + accessKey + "&secret-key=" + secretKey);
  }

  @Override
  public boolean atomicConditionalWrites() {
    return true;
  }

  @Override
  public boolean refusesStreamingUploads() {
    return true;
  }

  @Override
  public boolean comparesUnquotedEtags() {
    return true;
  }

  /** The directory the cluster lives in, or null when it was started by someone else ({@value #ENV}). */
  public @Nullable Path directory() {
    return dir;
  }

  @Override
  public String toString() {
    return name();
  }
}
