package io.bucketdisk.common.tls;

import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509KeyManager;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS material from files, as a mounted Secret holds them: a PEM certificate chain and its PKCS#8 key (cert-manager's
 * {@code tls.crt}, {@code tls.key}) and a PEM CA bundle ({@code ca.crt}) that verifies peers. Both halves are
 * optional: a server without a CA does not ask for client certificates; a client without a certificate has none to
 * show.
 *
 * <p><b>Rotation.</b> The managers returned here re-read their files at every TLS handshake (a few small files; no
 * cache to go stale) and switch to the new material when the bytes changed, so a certificate rotated on disk (Kubelet
 * swaps a Secret's files atomically) is used for the next connection with no restart. New material that does not
 * parse, or a key that does not match its certificate (a rotation caught half-way), is logged once and the previous
 * material stays in use. Connections already established keep their session.
 *
 * <p><b>Peers.</b> Peers are verified against the CA bundle alone: a chain to it is the authentication, and the host
 * name is not checked (gateways are dialled by IP address). The CA must therefore be dedicated to bucketdisk. The
 * extended key usage is checked as the JDK does (a certificate limited to client auth cannot act as a server).
 *
 * <p>Thread safe. {@link #load} reads everything once and throws {@link IOException} naming the file at fault.
 */
public final class TlsFiles {
  private static final Logger log = LoggerFactory.getLogger(TlsFiles.class);

  private final @Nullable Path certificate;
  private final @Nullable Path key;
  private final @Nullable Path ca;
  private final @Nullable ReloadingKeyManager keyManager;
  private final @Nullable ReloadingTrustManager trustManager;

  private TlsFiles(@Nullable Path certificate, @Nullable Path key, @Nullable Path ca) throws IOException {
    this.certificate = certificate;
    this.key = key;
    this.ca = ca;
    this.keyManager = certificate == null || key == null ? null : new ReloadingKeyManager(certificate, key);
    this.trustManager = ca == null ? null : new ReloadingTrustManager(ca);
  }

  /**
   * Loads the material: {@code certificate} and {@code key} go together (both or neither), {@code ca} is optional.
   *
   * @throws IllegalArgumentException when only one of certificate and key is given
   * @throws IOException naming the file when one is missing, does not parse, or the key does not match
   */
  public static TlsFiles load(@Nullable Path certificate, @Nullable Path key, @Nullable Path ca) throws IOException {
    if ((certificate == null) != (key == null)) {
      throw new IllegalArgumentException("a TLS certificate and its key go together: give both");
    }
    return new TlsFiles(certificate, key, ca);
  }

  /** Whether there is a certificate to present. */
  public boolean hasCertificate() {
    return keyManager != null;
  }

  /** Whether peers are verified (a CA bundle is configured). */
  public boolean verifiesPeers() {
    return trustManager != null;
  }

  /** The key manager presenting the current certificate; empty without one. */
  public Optional<X509ExtendedKeyManager> keyManager() {
    return Optional.ofNullable(keyManager);
  }

  /** The trust manager verifying peers against the current CA bundle; empty without one. */
  public Optional<X509ExtendedTrustManager> trustManager() {
    return Optional.ofNullable(trustManager);
  }

  /**
   * An SSLContext over these managers (the JDK's default trust when no CA is given). One context serves every
   * connection; rotation happens inside the managers.
   */
  public SSLContext context() {
    try {
      var ctx = SSLContext.getInstance("TLS");
      ctx.init(keyManager == null ? null : new KeyManager[] {keyManager},
          trustManager == null ? null : new TrustManager[] {trustManager}, null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("TLS is not available in this JVM: " + e.getMessage(), e);
    }
  }

  /** The files, for messages. */
  @Override
  public String toString() {
    return "TLS(cert=" + certificate + ", key=" + key + ", ca=" + ca + ")";
  }

  static byte[] read(Path file) throws IOException {
    try {
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new IOException("no such file " + file);
    }
  }

  /** A certificate and key, re-read when either file changes. */
  private static final class ReloadingKeyManager extends X509ExtendedKeyManager {
    private final Path certificate;
    private final Path key;
    private volatile Identity current;
    private volatile @Nullable Identity previous;
    private byte[] warnedAbout = new byte[0];

    /** One generation of material: its bytes, and a JDK key manager holding it under a per-generation alias. */
    private record Identity(byte[] certBytes, byte[] keyBytes, String alias, X509KeyManager manager) {}

    ReloadingKeyManager(Path certificate, Path key) throws IOException {
      this.certificate = certificate;
      this.key = key;
      this.current = build(read(certificate), read(key), 0);
    }

    private Identity build(byte[] certBytes, byte[] keyBytes, int generation) throws IOException {
      List<X509Certificate> chain = Pem.certificates(certBytes, certificate.toString());
      PrivateKey pk = Pem.privateKey(keyBytes, key.toString());
      if (!Pem.matches(pk, chain.getFirst())) {
        throw new IOException(key + " is not the key of the certificate in " + certificate);
      }
      try {
        var store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        String alias = "bucketdisk-" + generation;
        store.setKeyEntry(alias, pk, new char[0], chain.toArray(X509Certificate[]::new));
        var kmf = KeyManagerFactory.getInstance("SunX509");
        kmf.init(store, new char[0]);
        return new Identity(certBytes, keyBytes, alias, (X509KeyManager) kmf.getKeyManagers()[0]);
      } catch (GeneralSecurityException e) {
        throw new IOException("cannot use " + certificate + " / " + key + ": " + e.getMessage(), e);
      }
    }

    /** Switches to the files' current contents when they changed and are usable. */
    private Identity refresh() {
      Identity id = current;
      try {
        byte[] c = read(certificate);
        byte[] k = read(key);
        if (Arrays.equals(c, id.certBytes()) && Arrays.equals(k, id.keyBytes())) {
          return id;
        }
        synchronized (this) {
          id = current;
          if (Arrays.equals(c, id.certBytes()) && Arrays.equals(k, id.keyBytes())) {
            return id;
          }
          int generation = Integer.parseInt(id.alias().substring(id.alias().lastIndexOf('-') + 1)) + 1;
          Identity next = build(c, k, generation);
          previous = id;
          current = next;
          log.info("TLS certificate {} changed on disk: using the new one (subject {})", certificate,
              Pem.certificates(c, certificate.toString()).getFirst().getSubjectX500Principal().getName());
          return next;
        }
      } catch (IOException e) {
        synchronized (this) {
          byte[] marker = e.getMessage() == null ? new byte[0] : e.getMessage().getBytes();
          if (!Arrays.equals(marker, warnedAbout)) {
            warnedAbout = marker;
            log.warn("TLS material changed on disk but cannot be used ({}); keeping the previous certificate",
                e.getMessage());
          }
        }
        return id;
      }
    }

    private @Nullable X509KeyManager owner(String alias) {
      Identity c = current;
      if (c.alias().equals(alias)) {
        return c.manager();
      }
      Identity p = previous;
      return p != null && p.alias().equals(alias) ? p.manager() : null;
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
      return refresh().manager().getClientAliases(keyType, issuers);
    }

    @Override
    public @Nullable String chooseClientAlias(String[] keyType, Principal[] issuers, @Nullable Socket socket) {
      return refresh().manager().chooseClientAlias(keyType, issuers, socket);
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
      return refresh().manager().getServerAliases(keyType, issuers);
    }

    @Override
    public @Nullable String chooseServerAlias(String keyType, Principal[] issuers, @Nullable Socket socket) {
      return refresh().manager().chooseServerAlias(keyType, issuers, socket);
    }

    @Override
    public @Nullable String chooseEngineClientAlias(String[] keyType, Principal[] issuers, @Nullable SSLEngine engine) {
      return refresh().manager().chooseClientAlias(keyType, issuers, null);
    }

    @Override
    public @Nullable String chooseEngineServerAlias(String keyType, Principal[] issuers, @Nullable SSLEngine engine) {
      return refresh().manager().chooseServerAlias(keyType, issuers, null);
    }

    @Override
    public X509Certificate @Nullable [] getCertificateChain(String alias) {
      X509KeyManager m = owner(alias);
      return m == null ? null : m.getCertificateChain(alias);
    }

    @Override
    public @Nullable PrivateKey getPrivateKey(String alias) {
      X509KeyManager m = owner(alias);
      return m == null ? null : m.getPrivateKey(alias);
    }
  }

  /** A CA bundle, re-read when the file changes; verifies chains without a host name check. */
  private static final class ReloadingTrustManager extends X509ExtendedTrustManager {
    private final Path ca;
    private volatile Trust current;
    private byte[] warnedAbout = new byte[0];

    private record Trust(byte[] bytes, X509ExtendedTrustManager manager) {}

    ReloadingTrustManager(Path ca) throws IOException {
      this.ca = ca;
      this.current = build(read(ca));
    }

    private Trust build(byte[] bytes) throws IOException {
      List<X509Certificate> cas = Pem.certificates(bytes, ca.toString());
      try {
        var store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        for (int i = 0; i < cas.size(); i++) {
          store.setCertificateEntry("ca-" + i, cas.get(i));
        }
        var tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(store);
        for (TrustManager tm : tmf.getTrustManagers()) {
          if (tm instanceof X509ExtendedTrustManager x) {
            return new Trust(bytes, x);
          }
        }
        throw new IOException("no X.509 trust manager in this JVM");
      } catch (GeneralSecurityException e) {
        throw new IOException("cannot use CA bundle " + ca + ": " + e.getMessage(), e);
      }
    }

    private X509ExtendedTrustManager refresh() {
      Trust t = current;
      try {
        byte[] b = read(ca);
        if (Arrays.equals(b, t.bytes())) {
          return t.manager();
        }
        synchronized (this) {
          if (!Arrays.equals(b, current.bytes())) {
            current = build(b);
            log.info("TLS CA bundle {} changed on disk: using the new one", ca);
          }
          return current.manager();
        }
      } catch (IOException e) {
        synchronized (this) {
          byte[] marker = String.valueOf(e.getMessage()).getBytes();
          if (!Arrays.equals(marker, warnedAbout)) {
            warnedAbout = marker;
            log.warn("TLS CA bundle changed on disk but cannot be used ({}); keeping the previous one",
                e.getMessage());
          }
        }
        return t.manager();
      }
    }

    // The socket and engine variants deliberately drop the socket/engine: that is what would add a host name check.

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      refresh().checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      refresh().checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      refresh().checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      refresh().checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      refresh().checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      refresh().checkServerTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return refresh().getAcceptedIssuers();
    }
  }
}
