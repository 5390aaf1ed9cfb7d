package io.bucketdisk.store.object;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.store.StoreMetrics;
import java.net.URI;
import java.nio.file.Path;
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
