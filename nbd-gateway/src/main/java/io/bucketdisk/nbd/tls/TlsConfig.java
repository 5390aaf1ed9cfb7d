package io.bucketdisk.nbd.tls;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * Builds the server's {@link SSLContext} for STARTTLS from X.509 material: a PEM certificate chain plus a PEM
 * PKCS#8 private key (RSA or EC), or a PKCS#12 keystore. Throws {@link IOException} naming the file on bad input.
 */
public final class TlsConfig {
  private static final Pattern PEM =
      Pattern.compile("-----BEGIN ([A-Z ]+)-----([A-Za-z0-9+/=\\s]+)-----END \\1-----");

  private TlsConfig() {}

  /** A TLS context from a PEM certificate (chain) and a PEM PKCS#8 key ({@code BEGIN PRIVATE KEY}). */
  public static SSLContext fromPem(Path certificate, Path key) throws IOException {
    try {
      var certs = new ArrayList<Certificate>();
      try (InputStream in = Files.newInputStream(certificate)) {
        certs.addAll(CertificateFactory.getInstance("X.509").generateCertificates(in));
      }
      if (certs.isEmpty()) {
        throw new IOException(certificate + " holds no PEM certificate");
      }
      var m = PEM.matcher(Files.readString(key));
      if (!m.find() || !m.group(1).equals("PRIVATE KEY")) {
        throw new IOException(
            key + " must hold a PKCS#8 key (BEGIN PRIVATE KEY); convert with 'openssl pkcs8 -topk8 -nocrypt'");
      }
      byte[] der = Base64.getMimeDecoder().decode(m.group(2));
      PrivateKey pk = null;
      for (String alg : new String[] {"RSA", "EC", "Ed25519"}) {
        try {
          pk = KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
          break;
        } catch (GeneralSecurityException e) {
          // try the next algorithm
        }
      }
      if (pk == null) {
        throw new IOException(key + " is not an RSA, EC or Ed25519 PKCS#8 key");
      }
      var store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      char[] none = new char[0];
      store.setKeyEntry("nbd", pk, none, certs.toArray(Certificate[]::new));
      return context(store, none);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot use " + certificate + " / " + key + ": " + e.getMessage(), e);
    }
  }

  /** A TLS context from a PKCS#12 keystore. */
  public static SSLContext fromKeystore(Path keystore, char[] password) throws IOException {
    try (InputStream in = Files.newInputStream(keystore)) {
      var store = KeyStore.getInstance("PKCS12");
      store.load(in, password);
      return context(store, password);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot use keystore " + keystore + ": " + e.getMessage(), e);
    }
  }

  private static SSLContext context(KeyStore store, char[] password) throws GeneralSecurityException {
    var kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(store, password);
    var ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), null, null);
    return ctx;
  }
}
