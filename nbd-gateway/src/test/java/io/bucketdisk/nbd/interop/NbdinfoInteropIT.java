package io.bucketdisk.nbd.interop;

import io.bucketdisk.testing.Tool;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code nbdinfo} (libnbd) against the gateway: export details, JSON, the boolean probes, listing. */
@Timeout(120)
class NbdinfoInteropIT {
  static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = new TestServer();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  @BeforeEach
  void tool() {
    Tool.require("nbdinfo");
  }

  @Test
  void jsonDescribesTheExport() throws Exception {
    var r = Tool.run("nbdinfo", "--json", server.uri("demo")).ok();
    String json = r.out().replaceAll("\\s+", " ");
    assertThat(json).contains("\"protocol\": \"newstyle-fixed\"");
    assertThat(json).contains("\"TLS\": false");
    assertThat(json).contains("\"structured\": true");
    assertThat(json).contains("\"export-name\": \"demo\"");
    assertThat(json).contains("\"description\": \"test volume\"");
    assertThat(json).contains("\"export-size\": 67108864");
    assertThat(json).contains("\"is_rotational\": false", "\"is_read_only\": false");
    assertThat(json).contains("\"can_multi_conn\": true", "\"can_fua\": true", "\"can_fast_zero\": true");
    assertThat(json).contains("\"block_size_minimum\": 1", "\"block_size_preferred\": 4096",
        "\"block_size_maximum\": 33554432");
    assertThat(json).contains("\"base:allocation\"", "\"bucketdisk:dirty\"", "\"bucketdisk:allocation-depth\"");
  }

  @Test
  void canProbesMatchTheCapabilities() throws Exception {
    for (String can : new String[] {"connect", "read", "write", "flush", "fua", "trim", "zero", "fast-zero",
        "df", "cache", "multi-conn", "structured-reply"}) {
      assertThat(Tool.run("nbdinfo", "--can", can, server.uri("demo")).exit()).as("--can " + can).isZero();
    }
    assertThat(Tool.run("nbdinfo", "--can", "tls", server.uri("demo")).exit()).isEqualTo(2);
    assertThat(Tool.run("nbdinfo", "--is", "rotational", server.uri("demo")).exit()).isEqualTo(2);
    assertThat(Tool.run("nbdinfo", "--is", "read-only", server.uri("demo")).exit()).isEqualTo(2);
    assertThat(Tool.run("nbdinfo", "--is", "read-only", server.uri("ro")).exit()).isZero();
    assertThat(Tool.run("nbdinfo", "--can", "write", server.uri("ro")).exit()).isEqualTo(2);
    assertThat(Tool.run("nbdinfo", "--size", server.uri("ro")).ok().out().trim()).isEqualTo("1048576");
  }

  @Test
  void listShowsEveryExportWithDescriptions() throws Exception {
    var r = Tool.run("nbdinfo", "--list", server.uri("")).ok();
    assertThat(r.out()).contains("export=\"demo\"", "export=\"ro\"", "export=\"aligned\"");
    assertThat(r.out()).contains("description: test volume", "description: read-only volume");
    var json = Tool.run("nbdinfo", "--list", "--json", server.uri("")).ok().out();
    assertThat(json).contains("\"export-name\": \"aligned\"", "\"description\": \"4 KiB blocks\"");
  }

  @Test
  void unixSocketWorksToo() throws Exception {
    var r = Tool.run("nbdinfo", "--size", server.unixUri("demo")).ok();
    assertThat(r.out().trim()).isEqualTo("67108864");
  }

  @Test
  void unknownExportIsReported() throws Exception {
    var r = Tool.run("nbdinfo", server.uri("nope"));
    assertThat(r.exit()).isNotZero();
    assertThat(r.err()).contains("nope");
  }
}
