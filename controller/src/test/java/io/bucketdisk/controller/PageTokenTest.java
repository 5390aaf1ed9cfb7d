package io.bucketdisk.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class PageTokenTest {

  @Test
  void roundTrip() {
    String t = PageToken.wrap("volumes", "volumes/pvc-123/manifest");
    assertThat(PageToken.unwrap("volumes", t)).isEqualTo("volumes/pvc-123/manifest");
    assertThat(PageToken.unwrap("volumes", PageToken.wrap("volumes", "a\nb"))).isEqualTo("a\nb");
    assertThat(PageToken.unwrap("volumes", "")).isNull();
  }

  @ParameterizedTest
  @ValueSource(strings = {"invalid-token", "1", "abc", "%%%", "dm9sdW1lcwp4CjA"})
  void foreignTokensAreBadTokens(String token) {
    assertThatThrownBy(() -> PageToken.unwrap("volumes", token)).isInstanceOfSatisfying(VolumeError.class,
        e -> assertThat(e.reason()).isEqualTo(VolumeError.Reason.BAD_TOKEN));
  }

  @Test
  void tokensAreKindSpecificAndTamperEvident() {
    String t = PageToken.wrap("volumes", "k");
    assertThatThrownBy(() -> PageToken.unwrap("snapshots", t)).isInstanceOf(VolumeError.class);
    char[] c = t.toCharArray();
    c[c.length / 2] = c[c.length / 2] == 'A' ? 'B' : 'A';
    assertThatThrownBy(() -> PageToken.unwrap("volumes", new String(c))).isInstanceOf(VolumeError.class);
  }

  @Test
  void badTokenMapsToAborted() {
    var status = ControllerErrors.toStatus(new VolumeError(VolumeError.Reason.BAD_TOKEN, "x"));
    assertThat(status.getCode()).isEqualTo(io.grpc.Status.Code.ABORTED);
  }
}
