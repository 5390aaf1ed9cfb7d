package io.bucketdisk.node.netlink;

import io.bucketdisk.testing.Requirement;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.node.vm.GuestJava;
import io.bucketdisk.node.vm.GuestVm;
import io.bucketdisk.node.vm.HostNbdServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Netlink NBD on a real kernel: our FFM netlink code attaches an export served on the host with 4 connections,
 * data written through /dev/nbdN lands in the server's file, sysfs shows the backend id, RECONFIGURE grows the
 * device and refuses a wrong backend id, DISCONNECT detaches, and without the module the error says what to do.
 */
@Tag("vm")
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NetlinkAttachVmIT {

  @Test
  void attachWriteReconfigureDisconnect(@TempDir Path tmp) throws Exception {
    var reason = GuestVm.unavailableReason();
    Requirement.require(reason.map(r -> "VM test: " + r));
    try (var server = HostNbdServer.start(tmp.resolve("server"), "vol-probe", 64L << 20);
        var vm = GuestVm.boot(tmp.resolve("vm"), 1536, List.of(), Duration.ofSeconds(90))) {
      String cmd = GuestJava.command(NetlinkAttachProbe.class, GuestVm.HOST_FROM_GUEST + ":" + server.port(), "vol-probe", "4");
      var r = vm.exec(cmd, Duration.ofSeconds(120));
      System.out.println(r.output());
      r.orThrow("attach probe");
      assertThat(r.output())
          .contains("PROBE index=0 connections=4")
          .contains("PROBE backend=vol-probe bytes=" + (64L << 20))
          .contains("PROBE status DeviceStatus[index=0, connected=true]")
          .contains("PROBE readback equal")
          .contains("PROBE grown=" + (128L << 20))
          .contains("PROBE wrong-backend errno=22")
          .contains("PROBE disconnected status DeviceStatus[index=0, connected=false]")
          .contains("PROBE linkdead-after-disconnect OptionalInt.empty")
          .contains("PROBE done");
      assertThat(server.read(1 << 20, 16)).isEqualTo(expected(16));

      var missing = vm.exec("rmmod nbd && " + GuestJava.command(ModuleMissingProbe.class), Duration.ofSeconds(120));
      System.out.println(missing.output());
      assertThat(missing.output()).contains("kernel nbd module not loaded: run modprobe nbd");
    }
  }

  private static byte[] expected(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (i * 31 + 7);
    }
    return b;
  }

  /** Prints the message {@link NbdNetlink#open()} gives when the nbd family is absent. */
  public static final class ModuleMissingProbe {
    public static void main(String[] args) {
      try (var nl = NbdNetlink.open()) {
        System.out.println("PROBE unexpectedly opened");
      } catch (NetlinkException e) {
        System.out.println("PROBE " + e.getMessage() + " errno=" + e.errno());
      }
    }
  }
}
