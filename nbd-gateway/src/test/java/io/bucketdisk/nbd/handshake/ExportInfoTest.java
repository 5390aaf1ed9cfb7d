package io.bucketdisk.nbd.handshake;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.export.Capabilities;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Transmission flags come from Capabilities only ("Transmission flags"). */
@Timeout(10)
class ExportInfoTest {
  @Test
  void flagsFollowCapabilities() {
    var all = new Capabilities(false, true, true, true, true, true, true, true, List.of(), 1, 4096, 1 << 25);
    assertThat(ExportInfo.transmissionFlags(all, true)).isEqualTo(0x0ded);
    assertThat(ExportInfo.transmissionFlags(all, false)).isEqualTo(0x0d6d);
    var none = new Capabilities(false, false, false, false, false, false, false, false, List.of(), 1, 4096, 1 << 25);
    assertThat(ExportInfo.transmissionFlags(none, false)).isEqualTo(0x0001);
    var ro = new Capabilities(true, true, false, true, true, true, false, true, List.of(), 1, 4096, 1 << 25);
    assertThat(ExportInfo.transmissionFlags(ro, false)).isEqualTo(0x0001 | 0x0002 | 0x0004 | 0x0100);
    var zeroNoFast = new Capabilities(false, false, false, false, true, false, false, false, List.of(), 1, 4096, 1);
    assertThat(ExportInfo.transmissionFlags(zeroNoFast, false)).isEqualTo(0x0041);
  }
}
