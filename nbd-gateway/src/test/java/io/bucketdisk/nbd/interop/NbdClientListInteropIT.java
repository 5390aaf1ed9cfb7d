package io.bucketdisk.nbd.interop;

import io.bucketdisk.testing.Tool;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code nbd-client -l} (the reference client's NBD_OPT_LIST then ABORT). */
@Timeout(60)
class NbdClientListInteropIT {

  @Test
  void listsExportsWithDescriptions() throws Exception {
    Tool.require("nbd-client");
    try (var server = new TestServer()) {
      var r = Tool.run("nbd-client", "-l", "127.0.0.1", Integer.toString(server.tcp.getPort())).ok();
      assertThat(r.out()).contains("demo: test volume", "ro: read-only volume", "aligned: 4 KiB blocks");
    }
  }
}
