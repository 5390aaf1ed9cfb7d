package io.bucketdisk.nbd.tls;

import io.bucketdisk.testing.Requirement;
import static io.bucketdisk.nbd.wire.NbdConstants.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.TestServer;
import io.bucketdisk.nbd.server.ServerOptions;
import io.bucketdisk.nbd.wire.OptionCodec;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * STARTTLS on the raw wire with only the JDK: a PKCS#12 keystore made by keytool ({@code --tls-keystore}), the
 * option exchange in clear, then GO, structured replies and a WRITE/READ inside TLS; and TLS state reset (an
 * option negotiated before STARTTLS is forgotten).
 */
@Timeout(60)
class StartTlsConformanceIT {

  @Test
  void startTlsThenTransmissionOverTls() throws Exception {
    Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
    Requirement.require(Files.isExecutable(keytool), "keytool is not in this JDK (" + keytool + ")");
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "bdks");
    Path store = dir.resolve("server.p12");
    try {
      var p = new ProcessBuilder(keytool.toString(), "-genkeypair", "-keystore", store.toString(), "-storetype",
          "PKCS12", "-storepass", "secret", "-keypass", "secret", "-alias", "nbd", "-keyalg", "EC", "-dname",
          "CN=localhost", "-validity", "1").redirectErrorStream(true).start();
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isZero();
      var tls = TlsConfig.fromKeystore(store, "secret".toCharArray());
      try (var server = new TestServer(TestServer.defaultProvider(1 << 20), ServerOptions.defaults().withTls(tls, false));
          var socket = new Socket("127.0.0.1", server.tcp.getPort())) {
        var in = new DataInputStream(socket.getInputStream());
        var out = new DataOutputStream(socket.getOutputStream());
        assertThat(in.readLong()).isEqualTo(NBDMAGIC);
        in.readLong();
        in.readShort();
        out.writeInt(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES);
        option(out, OPT_STRUCTURED_REPLY, new byte[0]);
        assertThat(replyType(in)).isEqualTo(REP_ACK);
        option(out, OPT_STARTTLS, new byte[0]);
        assertThat(replyType(in)).isEqualTo(REP_ACK);

        SSLSocket ssl = (SSLSocket) trustAll().getSocketFactory().createSocket(socket, "localhost", 0, true);
        ssl.setUseClientMode(true);
        ssl.startHandshake();
        var tin = new DataInputStream(ssl.getInputStream());
        var tout = new DataOutputStream(ssl.getOutputStream());
        option(tout, OPT_STARTTLS, new byte[0]);
        assertThat(replyType(tin)).as("STARTTLS twice").isEqualTo(REP_ERR_INVALID);
        var go = OptionCodec.encodeExportRequest("demo");
        option(tout, OPT_GO, java.util.Arrays.copyOf(go.array(), go.remaining()));
        int type;
        int flags = 0;
        do {
          tin.readLong();
          tin.readInt();
          type = tin.readInt();
          byte[] data = new byte[tin.readInt()];
          tin.readFully(data);
          if (type == REP_INFO && data[1] == INFO_EXPORT) {
            flags = ((data[10] & 0xff) << 8) | (data[11] & 0xff);
          }
        } while (type != REP_ACK);
        assertThat(flags & FLAG_SEND_DF).as("structured replies were forgotten by STARTTLS").isZero();

        tout.writeInt(REQUEST_MAGIC);
        tout.writeShort(0);
        tout.writeShort(CMD_WRITE);
        tout.writeLong(1);
        tout.writeLong(4096);
        tout.writeInt(4);
        tout.write(new byte[] {1, 2, 3, 4});
        tout.flush();
        // requests in flight together may complete in any order (NBD spec), so the READ goes after the reply
        assertThat(tin.readInt()).isEqualTo(SIMPLE_REPLY_MAGIC);
        assertThat(tin.readInt()).isZero();
        assertThat(tin.readLong()).isEqualTo(1);
        tout.writeInt(REQUEST_MAGIC);
        tout.writeShort(0);
        tout.writeShort(CMD_READ);
        tout.writeLong(2);
        tout.writeLong(4096);
        tout.writeInt(4);
        tout.flush();
        assertThat(tin.readInt()).isEqualTo(SIMPLE_REPLY_MAGIC);
        assertThat(tin.readInt()).isZero();
        assertThat(tin.readLong()).isEqualTo(2);
        byte[] data = new byte[4];
        tin.readFully(data);
        assertThat(data).containsExactly(1, 2, 3, 4);
        tout.writeInt(REQUEST_MAGIC);
        tout.writeShort(0);
        tout.writeShort(CMD_DISC);
        tout.writeLong(3);
        tout.writeLong(0);
        tout.writeInt(0);
        tout.flush();
        assertThat(tin.read()).as("server closes after DISC").isEqualTo(-1);
      }
    } finally {
      Files.deleteIfExists(store);
      Files.deleteIfExists(dir);
    }
  }

  static void option(DataOutputStream out, int option, byte[] data) throws Exception {
    out.writeLong(IHAVEOPT);
    out.writeInt(option);
    out.writeInt(data.length);
    out.write(data);
    out.flush();
  }

  static int replyType(DataInputStream in) throws Exception {
    assertThat(in.readLong()).isEqualTo(OPTION_REPLY_MAGIC);
    in.readInt();
    int type = in.readInt();
    in.readFully(new byte[in.readInt()]);
    return type;
  }

  static SSLContext trustAll() throws Exception {
    var ctx = SSLContext.getInstance("TLS");
    ctx.init(null, new TrustManager[] {new X509TrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    }}, null);
    return ctx;
  }
}
