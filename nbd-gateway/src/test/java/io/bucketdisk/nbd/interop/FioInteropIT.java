package io.bucketdisk.nbd.interop;

import io.bucketdisk.testing.Tool;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code fio --ioengine=nbd} random writes at queue depth 32 with crc32c verification, and random trims. */
@Timeout(180)
class FioInteropIT {

  @Test
  void randomWritesVerifyWithCrc32c() throws Exception {
    Tool.require("fio");
    try (var server = new TestServer()) {
      var r = Tool.run(120, "fio", "--name=verify", "--ioengine=nbd", "--uri=" + server.uri("demo"),
          "--rw=randwrite", "--bs=4k,64k", "--size=32M", "--iodepth=32", "--verify=crc32c",
          "--verify_fatal=1", "--verify_state_save=0", "--output-format=normal").ok();
      assertThat(r.out()).contains("err= 0");
      assertThat(r.out()).containsPattern("write: IOPS=");
      assertThat(r.out()).containsPattern("read: IOPS=");
      assertThat(r.out() + r.err()).doesNotContain("verify: bad", "crc32c: verify failed");
      var trim = Tool.run(120, "fio", "--name=trim", "--ioengine=nbd", "--uri=" + server.uri("demo"),
          "--rw=randtrim", "--bs=64k", "--size=16M", "--iodepth=8").ok();
      assertThat(trim.out()).contains("err= 0").containsPattern("trim: IOPS=");
    }
  }
}
