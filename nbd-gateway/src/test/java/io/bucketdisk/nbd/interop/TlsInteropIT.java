package io.bucketdisk.nbd.interop;

import io.bucketdisk.testing.Tool;
import static io.bucketdisk.nbd.wire.NbdConstants.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.TestServer;
import io.bucketdisk.nbd.server.ServerOptions;
import io.bucketdisk.nbd.tls.TlsConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * STARTTLS with an X.509 certificate generated for the test with {@code openssl}, in TLS-required mode,
 * driven by nbdinfo, qemu-io (tls-creds-x509) and nbdcopy (many requests in flight over one TLS session).
 */
@Timeout(180)
class TlsInteropIT {
  static Path dir;
  static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    Tool.require("openssl");
    dir = Files.createTempDirectory(Path.of("/tmp"), "bdtls");
    Tool.run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-keyout", dir.resolve("key.pem").toString(), "-out", dir.resolve("cert.pem").toString(),
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1").ok();
    // Self-signed: the certificate is its own CA for the clients (libnbd and qemu look for ca-cert.pem).
    Files.copy(dir.resolve("cert.pem"), dir.resolve("ca-cert.pem"));
    var tls = TlsConfig.fromPem(dir.resolve("cert.pem"), dir.resolve("key.pem"));
    server = new TestServer(TestServer.defaultProvider(64L << 20), ServerOptions.defaults().withTls(tls, true));
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
    }
    if (dir != null) {
      try (var files = Files.list(dir)) {
        for (Path p : files.toList()) {
          Files.delete(p);
        }
      }
      Files.delete(dir);
    }
  }

  String tlsUri(String export) {
    return "nbds://127.0.0.1:" + server.tcp.getPort() + "/" + export + "?tls-certificates=" + dir;
  }

  @Test
  void nbdinfoNegotiatesTls() throws Exception {
    Tool.require("nbdinfo");
    var json = Tool.run("nbdinfo", "--json", tlsUri("demo")).ok().out().replaceAll("\\s+", " ");
    assertThat(json).contains("\"TLS\": true", "\"export-name\": \"demo\"", "\"export-size\": 67108864");
    assertThat(Tool.run("nbdinfo", "--can", "tls", tlsUri("demo")).exit()).isZero();
    var unix = "nbds+unix:///demo?socket=" + server.unix.getPath() + "&tls-verify-peer=false";
    assertThat(Tool.run("nbdinfo", "--size", unix).ok().out().trim()).isEqualTo("67108864");
  }

  @Test
  void plainClientsAreRefused() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_LIST);
      assertThat(c.optionReply().type()).isEqualTo(REP_ERR_TLS_REQD);
      c.option(OPT_INFO, io.bucketdisk.nbd.wire.OptionCodec.encodeExportRequest("demo"));
      assertThat(c.optionReply().type()).isEqualTo(REP_ERR_TLS_REQD);
      c.option(OPT_ABORT);
      assertThat(c.optionReply().type()).isEqualTo(REP_ACK);
    }
    Tool.require("nbdinfo");
    var r = Tool.run("nbdinfo", server.uri("demo"));
    assertThat(r.exit()).isNotZero();
    assertThat(r.out()).doesNotContain("export-size");
  }

  @Test
  void qemuIoWithTlsCreds() throws Exception {
    Tool.require("qemu-io");
    var r = Tool.run("qemu-io", "--object", "tls-creds-x509,id=tls0,endpoint=client,dir=" + dir,
        "--image-opts", "driver=raw,file.driver=nbd,file.host=127.0.0.1,file.port=" + server.tcp.getPort()
            + ",file.export=demo,file.tls-creds=tls0",
        "-c", "write -P 0x5a 1M 1M", "-c", "read -P 0x5a 1M 1M", "-c", "flush").ok();
    assertThat(r.out()).contains("wrote 1048576/1048576 bytes at offset 1048576",
        "read 1048576/1048576 bytes at offset 1048576");
    assertThat(r.out() + r.err()).doesNotContain("Pattern verification failed");
  }

  @Test
  void nbdcopyRoundTripOverTls() throws Exception {
    Tool.require("nbdcopy");
    Path src = dir.resolve("src.raw");
    Path back = dir.resolve("back.raw");
    byte[] data = new byte[16 << 20];
    new Random(3).nextBytes(data);
    Files.write(src, data);
    Tool.run("nbdcopy", "-C", "2", "-R", "32", "--flush", src.toString(), tlsUri("demo")).ok();
    Tool.run("nbdcopy", tlsUri("demo"), back.toString()).ok();
    assertThat(Files.mismatch(src, back)).as("first 16 MiB read back").isIn(-1L, (long) data.length);
    assertThat(Files.size(back)).isEqualTo(64L << 20);
    try (var in = Files.newInputStream(back)) {
      assertThat(in.readNBytes(data.length)).isEqualTo(data);
    }
  }
}
