package io.bucketdisk.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A throw-away certificate authority for tests, made with {@code openssl} (EC P-256 keys, PKCS#8 PEM, one day): the
 * files a cert-manager Secret holds ({@code tls.crt}, {@code tls.key}, {@code ca.crt}) in a directory per leaf.
 */
public final class TestPki {
  private final Path dir;
  private final Path caCert;
  private final Path caKey;
  private int serial;

  /** A certificate and its key, side by side in their own directory with the issuing CA as {@code ca.crt}. */
  public record Leaf(Path dir, Path cert, Path key, Path ca) {}

  private TestPki(Path dir, Path caCert, Path caKey) {
    this.dir = dir;
    this.caCert = caCert;
    this.caKey = caKey;
  }

  /** A new CA named {@code name} under {@code dir} (created). */
  public static TestPki create(Path dir, String name) throws IOException, InterruptedException {
    Tool.require("openssl");
    Files.createDirectories(dir);
    Path cert = dir.resolve(name + "-ca.crt");
    Path key = dir.resolve(name + "-ca.key");
    Tool.run(30, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key.toString(), "-out", cert.toString(), "-days", "1", "-subj", "/CN=" + name + " test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign").ok();
    return new TestPki(dir, cert, key);
  }

  public Path caCert() {
    return caCert;
  }

  /** A certificate for {@code commonName}: a server's (server and client auth) or a client's (client auth only). */
  public synchronized Leaf issue(String commonName, boolean server) throws IOException, InterruptedException {
    Path leafDir = Files.createDirectories(dir.resolve(commonName.replaceAll("[^A-Za-z0-9._-]", "_") + "-" + (++serial)));
    Path key = leafDir.resolve("tls.key");
    Path csr = leafDir.resolve("tls.csr");
    Path cert = leafDir.resolve("tls.crt");
    Path ext = leafDir.resolve("ext.cnf");
    Files.writeString(ext, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\n"
        + "extendedKeyUsage=" + (server ? "serverAuth,clientAuth" : "clientAuth") + "\n"
        + (server ? "subjectAltName=IP:127.0.0.1,IP:10.0.2.2,DNS:localhost\n" : ""));
    Tool.run(30, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key.toString(), "-out", csr.toString(), "-subj", "/O=bucketdisk/CN=" + commonName).ok();
    Tool.run(30, "openssl", "x509", "-req", "-in", csr.toString(), "-CA", caCert.toString(), "-CAkey",
        caKey.toString(), "-set_serial", String.valueOf(1000 + serial), "-days", "1", "-extfile", ext.toString(),
        "-out", cert.toString()).ok();
    Path ca = leafDir.resolve("ca.crt");
    Files.copy(caCert, ca);
    return new Leaf(leafDir, cert, key, ca);
  }
}
