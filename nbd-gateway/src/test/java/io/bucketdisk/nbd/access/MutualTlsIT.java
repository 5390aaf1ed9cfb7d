package io.bucketdisk.nbd.access;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.common.tls.TlsFiles;
import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.nbd.server.NbdListener;
import io.bucketdisk.nbd.server.ServerOptions;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.VolumeSpec;
import io.bucketdisk.testing.TestPki;
import io.bucketdisk.testing.Tool;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * NBD over mutual TLS with real clients (nbdinfo, qemu-io) against a store-backed gateway: TCP needs STARTTLS with a
 * certificate from the client CA, and the node a certificate names sees and opens only the volumes published to it.
 * Refused clients leave the volumes untouched (checked over the gateway's plain Unix socket, the node-local path).
 */
@Timeout(300)
class MutualTlsIT {
  static Path dir;
  static TestPki pki;
  static TestPki otherPki;
  static Path gatewayCa;
  static VolumeExportProvider provider;
  static NbdListener listener;
  static int port;
  static Path unix;

  @BeforeAll
  static void start() throws Exception {
    Tool.require("nbdinfo");
    Tool.require("qemu-io");
    dir = Files.createTempDirectory(Path.of("/tmp"), "bdmtls");
    pki = TestPki.create(dir.resolve("pki"), "bucketdisk");
    otherPki = TestPki.create(dir.resolve("other"), "other");
    var server = pki.issue("gateway", true);
    gatewayCa = dir.resolve("client-ca.crt");
    Files.copy(pki.caCert(), gatewayCa);
    var config = new CacheConfig(64L << 20, 16L << 20, 1 << 20, 4, 4, 4, Duration.ofSeconds(3),
        Duration.ofSeconds(30), Duration.ofSeconds(30));
    provider = VolumeExportProvider.forStore(Files.createDirectories(dir.resolve("store")).toUri(),
        new LeaseOwner("gw", "none"), config, null);
    VolumeCatalog catalog = provider.volumes().catalog().orElseThrow();
    for (String v : new String[] {"vol-a", "vol-b"}) {
      catalog.create(new VolumeSpec(v, 4 << 20, 1 << 20, Map.of()));
    }
    catalog.publish("vol-a", "node-a", false);
    catalog.publish("vol-b", "node-b", false);
    var tls = TlsFiles.load(server.cert(), server.key(), gatewayCa);
    var options = ServerOptions.defaults().withTls(tls.context(), false)
        .withClientCertificates(tls.context(), new PublicationAccess(catalog));
    listener = new NbdListener(provider, options);
    port = ((InetSocketAddress) listener.listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))).getPort();
    unix = dir.resolve("nbd.sock");
    listener.listen(UnixDomainSocketAddress.of(unix));
    // Known contents, written over the node-local Unix socket (plain: no certificate there).
    for (String v : new String[] {"vol-a", "vol-b"}) {
      Tool.run("qemu-io", "-f", "raw", local(v), "-c", "write -P 0x11 0 64k").ok();
    }
  }

  @AfterAll
  static void stop() throws Exception {
    if (listener != null) {
      listener.stop();
    }
    if (provider != null) {
      provider.close();
    }
  }

  static String local(String export) {
    return "nbd+unix:///" + export + "?socket=" + unix;
  }

  /** A libnbd/qemu credentials directory: ca-cert.pem plus, when given, client-cert.pem and client-key.pem. */
  static Path credentials(String name, TestPki.Leaf leaf) throws Exception {
    Path d = Files.createDirectories(dir.resolve("creds-" + name));
    Files.copy(pki.caCert(), d.resolve("ca-cert.pem"), StandardCopyOption.REPLACE_EXISTING);
    if (leaf != null) {
      Files.copy(leaf.cert(), d.resolve("client-cert.pem"), StandardCopyOption.REPLACE_EXISTING);
      Files.copy(leaf.key(), d.resolve("client-key.pem"), StandardCopyOption.REPLACE_EXISTING);
    }
    return d;
  }

  static String tls(String export, Path creds) {
    return "nbds://127.0.0.1:" + port + "/" + export + "?tls-certificates=" + creds;
  }

  static Tool.Result qemuIo(Path creds, String export, String command) throws Exception {
    return Tool.run(60, "qemu-io", "--object", "tls-creds-x509,id=tls0,dir=" + creds + ",endpoint=client",
        "--image-opts", "driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=" + port + ",export=" + export
            + ",tls-creds=tls0", "-c", command);
  }

  static void untouched(String volume) throws Exception {
    Tool.run("qemu-io", "-f", "raw", local(volume), "-c", "read -P 0x11 0 64k").ok();
  }

  @Test
  void aNodeListsAndOpensOnlyTheVolumesPublishedToIt() throws Exception {
    Path nodeA = credentials("node-a", pki.issue("node-a", false));
    var list = Tool.run("nbdinfo", "--list", tls("", nodeA)).ok().out();
    assertThat(list).contains("vol-a").doesNotContain("vol-b");

    qemuIo(nodeA, "vol-a", "write -P 0x5a 64k 64k").ok();
    qemuIo(nodeA, "vol-a", "read -P 0x5a 64k 64k").ok();

    var refused = qemuIo(nodeA, "vol-b", "write -P 0x66 0 64k");
    assertThat(refused.exit()).isNotZero();
    assertThat(refused.err() + refused.out()).contains("Denied by server", "not published to node node-a");
    assertThat(Tool.run("nbdinfo", "--size", tls("vol-b", nodeA)).exit()).isNotZero();
    assertThat(Tool.run("nbdinfo", "--size", tls("no-such-volume", nodeA)).exit()).isNotZero();
    untouched("vol-b");
  }

  @Test
  void aNodeCertificateNamesTheNodeWithAKubeletStylePrefixToo() throws Exception {
    Path nodeB = credentials("kubelet-node-b", pki.issue("system:node:node-b", false));
    assertThat(Tool.run("nbdinfo", "--size", tls("vol-b", nodeB)).ok().out().strip()).isEqualTo("4194304");
    assertThat(Tool.run("nbdinfo", "--size", tls("vol-a", nodeB)).exit()).isNotZero();
  }

  @Test
  void clientsWithoutACertificateOrWithOneFromAnotherCaAreRefused() throws Exception {
    // Plain NBD on TCP: TLS is required there.
    var plain = Tool.run("nbdinfo", "--size", "nbd://127.0.0.1:" + port + "/vol-a");
    assertThat(plain.exit()).isNotZero();
    // TLS without a client certificate.
    Path none = credentials("none", null);
    assertThat(Tool.run("nbdinfo", "--size", tls("vol-a", none)).exit()).isNotZero();
    assertThat(qemuIo(none, "vol-a", "write -P 0x66 0 64k").exit()).isNotZero();
    // A certificate naming the right node, from another CA.
    var strangerLeaf = otherPki.issue("node-a", false);
    Path stranger = credentials("stranger", strangerLeaf);
    assertThat(Tool.run("nbdinfo", "--size", tls("vol-a", stranger)).exit()).isNotZero();
    assertThat(qemuIo(stranger, "vol-a", "write -P 0x66 0 64k").exit()).isNotZero();
    untouched("vol-a");
  }

  @Test
  void aClientCaRotatedOnDiskIsUsedForTheNextConnection() throws Exception {
    Path nodeA = credentials("rot-node-a", pki.issue("node-a", false));
    Path stranger = credentials("rot-stranger", otherPki.issue("node-a", false));
    try {
      Files.copy(otherPki.caCert(), gatewayCa, StandardCopyOption.REPLACE_EXISTING);
      // The gateway's own certificate still chains to the first CA, which the clients trust.
      assertThat(Tool.run("nbdinfo", "--size", tls("vol-a", nodeA)).exit()).isNotZero();
      assertThat(Tool.run("nbdinfo", "--size", tls("vol-a", stranger)).ok().out().strip()).isEqualTo("4194304");
    } finally {
      Files.copy(pki.caCert(), gatewayCa, StandardCopyOption.REPLACE_EXISTING);
    }
    assertThat(Tool.run("nbdinfo", "--size", tls("vol-a", nodeA)).ok().out().strip()).isEqualTo("4194304");
  }
}
