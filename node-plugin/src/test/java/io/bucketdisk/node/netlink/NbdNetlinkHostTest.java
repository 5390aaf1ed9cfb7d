package io.bucketdisk.node.netlink;

import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The real FFM netlink path on the build host, whose kernel has no nbd: the family lookup fails with the fix named. */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class NbdNetlinkHostTest {

  @Test
  void missingModuleSaysRunModprobe() {
    assumeFalse(Files.exists(Path.of("/sys/module/nbd")), "this host has the nbd module loaded; the VM test covers it");
    assertThatThrownBy(NbdNetlink::open)
        .isInstanceOfSatisfying(NetlinkException.class, e -> org.assertj.core.api.Assertions.assertThat(e.errno()).isEqualTo(2))
        .hasMessage("kernel nbd module not loaded: run modprobe nbd");
  }
}
