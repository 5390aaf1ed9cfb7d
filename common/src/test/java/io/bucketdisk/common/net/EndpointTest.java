package io.bucketdisk.common.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class EndpointTest {

  @ParameterizedTest
  @CsvSource({
    "unix:///run/bucketdisk/nbd.sock, unix:///run/bucketdisk/nbd.sock",
    "unix:/run/x.sock, unix:///run/x.sock",
    "/csi/csi.sock, unix:///csi/csi.sock",
    "tcp://127.0.0.1:10809, tcp://127.0.0.1:10809",
    "127.0.0.1:0, tcp://127.0.0.1:0",
    "gw.example:9820, tcp://gw.example:9820",
    "[::1]:9820, tcp://[::1]:9820",
    "tcp://[fd00::7]:9820, tcp://[fd00::7]:9820",
    "':9810', tcp://:9810",
    "' 0.0.0.0:10809 ', tcp://0.0.0.0:10809",
  })
  void parsesEveryFormToOneCanonicalForm(String text, String canonical) {
    Endpoint e = Endpoint.parse(text);
    assertThat(e).hasToString(canonical);
    assertThat(Endpoint.parse(e.toString())).isEqualTo(e);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "nohost", "host:", "tcp://h:p", "h:99999", "h:-1", "::1:9820",
      "unix://relative.sock", "unix:", "unix:///", "http://h:1/x", "csi.sock"})
  void refusesOtherTextNamingTheGrammar(String text) {
    assertThatThrownBy(() -> Endpoint.parse(text)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(Endpoint.GRAMMAR);
  }

  @Test
  void unixPathsLongerThanTheKernelAllowsAreRefused() {
    String longPath = "/tmp/" + "d".repeat(120) + "/nbd.sock";
    assertThatThrownBy(() -> Endpoint.parse(longPath)).hasMessageContaining("107 bytes");
  }

  @Test
  void kindsAndAddresses() throws Exception {
    assertThat(Endpoint.parseTcp("127.0.0.1:9820", "--metrics").socketAddress())
        .isEqualTo(new InetSocketAddress("127.0.0.1", 9820));
    assertThat(Endpoint.parseTcp(":9810", "--metrics").socketAddress().getAddress().isAnyLocalAddress()).isTrue();
    assertThatThrownBy(() -> Endpoint.parseTcp("unix:///x.sock", "--metrics")).hasMessageStartingWith("--metrics")
        .hasMessageContaining("must be TCP");
    assertThat(Endpoint.parseUnix("/csi/csi.sock", "--endpoint").path()).isEqualTo(Path.of("/csi/csi.sock"));
    assertThatThrownBy(() -> Endpoint.parseUnix("tcp://1.2.3.4:5", "--endpoint")).hasMessageStartingWith("--endpoint")
        .hasMessageContaining("must be a Unix socket");
    assertThat(Endpoint.of(UnixDomainSocketAddress.of("/run/a.sock"))).hasToString("unix:///run/a.sock");
    assertThat(Endpoint.of(new InetSocketAddress("::1", 5))).hasToString("tcp://[0:0:0:0:0:0:0:1]:5");
  }

  @ParameterizedTest
  @CsvSource({"127.0.0.1:1, true", "127.8.9.1:1, true", "[::1]:1, true", "localhost:1, true", "0.0.0.0:1, false",
      "10.0.0.1:1, false", "':1', false", "gw.example:1, false"})
  void knowsLoopback(String text, boolean loopback) {
    assertThat(((Endpoint.Tcp) Endpoint.parse(text)).isLoopback()).isEqualTo(loopback);
  }
}
