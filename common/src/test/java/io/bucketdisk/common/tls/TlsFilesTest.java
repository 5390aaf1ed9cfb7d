package io.bucketdisk.common.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.testing.TestPki;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real TLS handshakes on loopback between the material of {@link TlsFiles}: mutual auth, refusals, rotation. */
class TlsFilesTest {
  @TempDir static Path dir;
  static TestPki pki;
  static TestPki otherPki;
  static TestPki.Leaf server;
  static TestPki.Leaf nodeA;

  @BeforeAll
  static void pki() throws Exception {
    pki = TestPki.create(dir.resolve("pki"), "bucketdisk");
    otherPki = TestPki.create(dir.resolve("other"), "other");
    server = pki.issue("gateway", true);
    nodeA = pki.issue("system:node:node-a", false);
  }

  /** One handshake; the identity each side saw of the other, or the failure. */
  record Outcome(Optional<String> serverSaw, Optional<String> clientSaw, @Nullable Throwable failure) {}

  static Outcome handshake(TlsFiles serverFiles, TlsFiles clientFiles) throws Exception {
    try (var ss = (SSLServerSocket) serverFiles.context().getServerSocketFactory()
        .createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      ss.setNeedClientAuth(serverFiles.verifiesPeers());
      var accepted = CompletableFuture.supplyAsync(() -> {
        try (var s = (SSLSocket) ss.accept()) {
          s.setSoTimeout(10_000);
          s.startHandshake();
          s.getOutputStream().write(1);
          s.getOutputStream().flush();
          return PeerIdentity.of(s.getSession());
        } catch (IOException e) {
          return Optional.<String>empty();
        }
      });
      Optional<String> clientSaw;
      Throwable failure = null;
      try (var c = (SSLSocket) clientFiles.context().getSocketFactory()
          .createSocket(InetAddress.getLoopbackAddress(), ss.getLocalPort())) {
        c.setSoTimeout(10_000);
        c.startHandshake();
        int b = c.getInputStream().read(); // TLS 1.3: a refused client certificate shows up here
        if (b != 1) {
          throw new IOException("server closed the connection");
        }
        clientSaw = PeerIdentity.of(c.getSession());
      } catch (IOException e) {
        clientSaw = Optional.empty();
        failure = e;
      }
      Optional<String> serverSaw = accepted.get(10, TimeUnit.SECONDS);
      return failure == null ? new Outcome(serverSaw, clientSaw, null) : new Outcome(Optional.empty(), clientSaw, failure);
    }
  }

  @Test
  void mutualAuthenticationNamesBothPeers() throws Exception {
    var o = handshake(TlsFiles.load(server.cert(), server.key(), pki.caCert()),
        TlsFiles.load(nodeA.cert(), nodeA.key(), pki.caCert()));
    assertThat(o.failure()).isNull();
    assertThat(o.serverSaw()).contains("node-a");
    assertThat(o.clientSaw()).contains("gateway");
  }

  @Test
  void aClientWithoutACertificateOrFromAnotherCaIsRefused() throws Exception {
    var serverFiles = TlsFiles.load(server.cert(), server.key(), pki.caCert());
    assertThat(handshake(serverFiles, TlsFiles.load(null, null, pki.caCert())).failure()).isNotNull();
    var stranger = otherPki.issue("node-a", false);
    assertThat(handshake(serverFiles, TlsFiles.load(stranger.cert(), stranger.key(), pki.caCert())).failure())
        .isNotNull();
  }

  @Test
  void aServerFromAnotherCaIsRefusedByTheClient() throws Exception {
    var impostor = otherPki.issue("gateway", true);
    var o = handshake(TlsFiles.load(impostor.cert(), impostor.key(), null),
        TlsFiles.load(nodeA.cert(), nodeA.key(), pki.caCert()));
    assertThat(o.failure()).isNotNull();
  }

  @Test
  void aCertificateRotatedOnDiskIsUsedForTheNextConnection() throws Exception {
    Path live = Files.createDirectories(dir.resolve("live"));
    Files.copy(server.cert(), live.resolve("tls.crt"), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(server.key(), live.resolve("tls.key"), StandardCopyOption.REPLACE_EXISTING);
    var serverFiles = TlsFiles.load(live.resolve("tls.crt"), live.resolve("tls.key"), pki.caCert());
    var client = TlsFiles.load(nodeA.cert(), nodeA.key(), pki.caCert());
    assertThat(handshake(serverFiles, client).clientSaw()).contains("gateway");

    var rotated = pki.issue("gateway-rotated", true);
    Files.copy(rotated.cert(), live.resolve("tls.crt"), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(rotated.key(), live.resolve("tls.key"), StandardCopyOption.REPLACE_EXISTING);
    assertThat(handshake(serverFiles, client).clientSaw()).contains("gateway-rotated");

    // Half a rotation (a new certificate with the old key) is not used: the last good pair stays.
    Files.copy(pki.issue("gateway-half", true).cert(), live.resolve("tls.crt"), StandardCopyOption.REPLACE_EXISTING);
    assertThat(handshake(serverFiles, client).clientSaw()).contains("gateway-rotated");
  }

  @Test
  void aClientCertificateRotatedOnDiskNamesTheNewHolderOnTheNextConnection() throws Exception {
    Path live = Files.createDirectories(dir.resolve("client-live"));
    Files.copy(nodeA.cert(), live.resolve("tls.crt"), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(nodeA.key(), live.resolve("tls.key"), StandardCopyOption.REPLACE_EXISTING);
    var client = TlsFiles.load(live.resolve("tls.crt"), live.resolve("tls.key"), pki.caCert());
    var serverFiles = TlsFiles.load(server.cert(), server.key(), pki.caCert());
    assertThat(handshake(serverFiles, client).serverSaw()).contains("node-a");
    var nodeB = pki.issue("node-b", false);
    Files.copy(nodeB.key(), live.resolve("tls.key"), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(nodeB.cert(), live.resolve("tls.crt"), StandardCopyOption.REPLACE_EXISTING);
    assertThat(handshake(serverFiles, client).serverSaw()).contains("node-b");
  }

  @Test
  void badFilesAreRefusedNamingTheFile() throws Exception {
    assertThatThrownBy(() -> TlsFiles.load(dir.resolve("absent.crt"), server.key(), null))
        .isInstanceOf(IOException.class).hasMessageContaining("absent.crt");
    assertThatThrownBy(() -> TlsFiles.load(server.cert(), nodeA.key(), null))
        .isInstanceOf(IOException.class).hasMessageContaining("is not the key of the certificate");
    assertThatThrownBy(() -> TlsFiles.load(server.cert(), null, null)).isInstanceOf(IllegalArgumentException.class);
  }
}
