package io.bucketdisk.store.object;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.store.StoreMetrics;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ObjectStoresTest {

  @Test
  void parsesAnS3Url() {
    var c = ObjectStores.parseS3(URI.create(
        "s3://bkt/some/prefix?endpoint=http://127.0.0.1:9000&region=eu-west-1&path-style=true"));
    assertThat(c.bucket()).isEqualTo("bkt");
    assertThat(c.prefix()).isEqualTo("some/prefix/");
    assertThat(c.endpoint()).isEqualTo(URI.create("http://127.0.0.1:9000"));
    assertThat(c.region()).isEqualTo("eu-west-1");
    assertThat(c.pathStyle()).isTrue();
    assertThat(c.accessKey()).isNull();
  }

  @Test
  void s3UrlWithoutPrefixOrEndpoint() {
    var c = ObjectStores.parseS3(URI.create("s3://bkt"));
    assertThat(c.prefix()).isEmpty();
    assertThat(c.endpoint()).isNull();
    assertThat(c.pathStyle()).isFalse();
  }

  @Test
  void badUrlsGetOneLineErrorsNamingTheFix() {
    assertThatThrownBy(() -> ObjectStores.open(URI.create("ftp://x/y"), StoreMetrics.NONE))
        .hasMessageContaining("file:///").hasMessageNotContaining("\n");
    assertThatThrownBy(() -> ObjectStores.open(URI.create("file://host/dir"), StoreMetrics.NONE))
        .hasMessageContaining("three slashes");
    assertThatThrownBy(() -> ObjectStores.open(URI.create("relative/dir"), StoreMetrics.NONE))
        .hasMessageContaining("no scheme");
    assertThatThrownBy(() -> ObjectStores.parseS3(URI.create("s3://bkt/p?endpont=http://x:1")))
        .hasMessageContaining("'endpont' is unknown");
    assertThatThrownBy(() -> ObjectStores.parseS3(URI.create("s3://bkt/p?endpoint=127.0.0.1:9000")))
        .hasMessageContaining("http://host:port");
    assertThatThrownBy(() -> ObjectStores.parseS3(URI.create("s3://bkt/p?access-key=a")))
        .hasMessageContaining("both access-key and secret-key");
    assertThatThrownBy(() -> ObjectStores.parseS3(URI.create("s3://bkt/p?path-style=yes")))
        .hasMessageContaining("true or false");
  }

  @Test
  void parsesTheSettingsTheProbeCannotFind(@TempDir Path dir) throws Exception {
    var c = ObjectStores.parseS3(URI.create("s3://bkt/p?endpoint=http://127.0.0.1:9000"));
    assertThat(c.checksum()).isEqualTo(S3ObjectStore.ChecksumMode.AUTO);
    assertThat(c.attemptTimeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.caBundle()).isNull();
    assertThat(c.acceptUnfenced()).isFalse();
    Path ca = dir.resolve("ca.pem");
    Files.writeString(ca, "not yet checked at parse time");
    c = ObjectStores.parseS3(URI.create("s3://bkt/p?endpoint=https://s3.internal:8443&checksum=when-required"
        + "&request-timeout=5s&ca-bundle=" + ca + "&accept-unfenced=true&path-style=false&region=eu-central-1"));
    assertThat(c.checksum()).isEqualTo(S3ObjectStore.ChecksumMode.WHEN_REQUIRED);
    assertThat(c.attemptTimeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.caBundle()).isEqualTo(ca);
    assertThat(c.acceptUnfenced()).isTrue();
    assertThat(c.pathStyle()).isFalse();
    assertThat(c.region()).isEqualTo("eu-central-1");
    assertThat(ObjectStores.parseS3(URI.create("s3://b?checksum=when-supported")).checksum())
        .isEqualTo(S3ObjectStore.ChecksumMode.WHEN_SUPPORTED);
    assertThat(ObjectStores.timeout("1500ms")).isEqualTo(Duration.ofMillis(1500));
    assertThat(ObjectStores.timeout("2m")).isEqualTo(Duration.ofMinutes(2));
  }

  @Test
  void badSettingsGetOneLineErrorsNamingTheFix(@TempDir Path dir) {
    assertThatThrownBy(() -> ObjectStores.parseS3(URI.create("s3://b?checksum=crc32")))
        .hasMessageContaining("auto, when-supported or when-required");
    assertThatThrownBy(() -> ObjectStores.parseS3(URI.create("s3://b?request-timeout=30")))
        .hasMessageContaining("500ms, 30s or 2m");
    assertThatThrownBy(() -> ObjectStores.parseS3(URI.create("s3://b?request-timeout=20m")))
        .hasMessageContaining("between 1s and 10m");
    assertThatThrownBy(() -> ObjectStores.parseS3(URI.create("s3://b?endpoint=https://h:1&ca-bundle=" + dir
        + "/missing.pem"))).hasMessageContaining("readable PEM file");
    assertThatThrownBy(() -> ObjectStores.parseS3(URI.create("s3://b?endpoint=https://h:1&ca-bundle=rel.pem")))
        .hasMessageContaining("absolute path");
    assertThatThrownBy(() -> ObjectStores.parseS3(URI.create("s3://b?accept-unfenced=yes")))
        .hasMessageContaining("true or false");
  }

  @Test
  void caBundleMustHoldCertificates(@TempDir Path dir) throws Exception {
    Path bad = dir.resolve("bad.pem");
    Files.writeString(bad, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
    assertThatThrownBy(() -> S3Clients.trustManagers(bad)).hasMessageContaining("not a PEM certificate bundle")
        .hasMessageNotContaining("\n");
    Path empty = dir.resolve("empty.pem");
    Files.writeString(empty, "");
    assertThatThrownBy(() -> S3Clients.trustManagers(empty)).hasMessageContaining("bundle");
  }

  @Test
  void secretsAreRedactedFromMessages() {
    assertThat(ObjectStores.redact(URI.create("s3://b/p?secret-key=hunter2"))).doesNotContain("hunter2");
  }

  @Test
  void opensADirectoryStore(@TempDir Path dir) throws Exception {
    try (ObjectStore s = ObjectStores.open(dir.resolve("x").toUri(), StoreMetrics.NONE)) {
      assertThat(s).isInstanceOf(DirectoryObjectStore.class);
      assertThat(s.describe()).contains(dir.toString());
    }
  }
}
