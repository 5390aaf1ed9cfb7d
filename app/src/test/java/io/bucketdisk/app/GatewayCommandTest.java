package io.bucketdisk.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/** The gateway's {@code --control} / {@code --control-advertise} flags: what lands in leases, what is refused. */
@Timeout(30)
class GatewayCommandTest {

  @Test
  void advertiseDefaultsToTheTcpAddressWithThePodIp() {
    var both = List.of("unix:///run/bucketdisk/control.sock", "tcp://0.0.0.0:9820");
    assertThat(GatewayCommand.advertise(both, "10.1.2.3")).isEqualTo("tcp://10.1.2.3:9820");
    assertThat(GatewayCommand.advertise(List.of("tcp://[::]:9820"), "fd00::7")).isEqualTo("tcp://[fd00::7]:9820");
    assertThat(GatewayCommand.advertise(List.of("tcp://192.168.0.5:9820"), "10.1.2.3"))
        .isEqualTo("tcp://192.168.0.5:9820");
    assertThat(GatewayCommand.advertise(both, null)).as("no POD_IP: the first --control")
        .isEqualTo("unix:///run/bucketdisk/control.sock");
    assertThat(GatewayCommand.advertise(List.of("unix:///run/bucketdisk/control.sock"), "10.1.2.3"))
        .isEqualTo("unix:///run/bucketdisk/control.sock");
  }

  @Test
  void repeatedControlFlagsParseAndBadOnesAreOneLineErrors() {
    var cmd = new GatewayCommand();
    new CommandLine(cmd).parseArgs("--store", "memory://", "--control=unix:///tmp/x.sock",
        "--control=tcp://127.0.0.1:0");
    assertThat(cmd.control).containsExactly("unix:///tmp/x.sock", "tcp://127.0.0.1:0");

    var bad = new GatewayCommand();
    new CommandLine(bad).parseArgs("--store", "memory://", "--control=tcp://127.0.0.1");
    assertThatThrownBy(bad::call).isInstanceOf(UserError.class)
        .hasMessageStartingWith("--control ").hasMessageContaining("tcp://HOST:PORT");

    var badAdvertise = new GatewayCommand();
    new CommandLine(badAdvertise).parseArgs("--store", "memory://", "--control-advertise=gw");
    assertThatThrownBy(badAdvertise::call).isInstanceOf(UserError.class)
        .hasMessageStartingWith("--control-advertise ").hasMessageContaining("tcp://HOST:PORT");
  }

  @Test
  void aTcpListenerBeyondLoopbackNeedsMutualTlsOrInsecure() throws Exception {
    for (var args : List.of(List.of("--listen=0.0.0.0:10809"), List.of("--control=tcp://0.0.0.0:9820"),
        List.of("--listen=[::]:10809"))) {
      var cmd = new GatewayCommand();
      var argv = new java.util.ArrayList<>(List.of("--store", "memory://", "--control=unix:///tmp/bd-gct.sock"));
      argv.addAll(args);
      new CommandLine(cmd).parseArgs(argv.toArray(String[]::new));
      assertThatThrownBy(cmd::call).as(args.toString()).isInstanceOf(UserError.class)
          .hasMessageContaining("reachable from other machines").hasMessageContaining("--tls-client-ca")
          .hasMessageContaining("--insecure").hasMessageNotContaining("\n");
    }
    // Loopback and Unix sockets need nothing; --insecure lets the lab case through (with a warning).
    assertThat(GatewayCommand.mutualTls(List.of("127.0.0.1:10809", "unix:///run/x.sock"),
        List.of("tcp://[::1]:9820"), null, null, null, null, false)).isNull();
    assertThat(GatewayCommand.mutualTls(List.of("0.0.0.0:10809"), List.of(), null, null, null, null, true)).isNull();
    assertThatThrownBy(() -> GatewayCommand.mutualTls(List.of("0.0.0.0:10809"), List.of(), null, null, null,
        java.nio.file.Path.of("/nonexistent/ca.crt"), false)).isInstanceOf(UserError.class)
        .hasMessageContaining("--tls-cert and --tls-key");
  }

  @Test
  void aCacheTheHeapCannotHoldIsRefusedInOneLine() {
    StoreWiring.checkHeap("256Mi", 256L << 20, 400L << 20);
    assertThatThrownBy(() -> StoreWiring.checkHeap("1Gi", 1L << 30, 512L << 20)).isInstanceOf(UserError.class)
        .hasMessage("--cache-size 1Gi does not fit the JVM heap of 512 MiB: remove the smaller -Xmx from "
            + "JAVA_TOOL_OPTIONS or BUCKETDISK_JAVA_OPTS (the bucketdisk launcher sizes the heap from --cache-size), "
            + "or lower --cache-size");
  }
}
