package io.bucketdisk.common.tls;

import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Optional;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Who is at the other end of a mutually authenticated TLS connection: the name in its verified client certificate.
 * The rule, the same for NBD and the control API: the subject's common name (CN); a kubelet-style {@code
 * system:node:NAME} names node {@code NAME}. A node plugin's certificate names its node (the CSI node id, which is the
 * Kubernetes node name); the controller's names {@link #CONTROLLER}. Pure functions.
 */
public final class PeerIdentity {
  /** The identity of the CSI controller, which may flush, snapshot, refresh and close any volume. */
  public static final String CONTROLLER = "bucketdisk-controller";

  private static final String NODE_PREFIX = "system:node:";

  private PeerIdentity() {}

  /** The name {@code certificate} gives its holder; empty when its subject has no CN. */
  public static Optional<String> of(X509Certificate certificate) {
    try {
      var dn = new LdapName(certificate.getSubjectX500Principal().getName());
      for (var rdn : dn.getRdns().reversed()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          String cn = rdn.getValue().toString().strip();
          if (cn.startsWith(NODE_PREFIX)) {
            cn = cn.substring(NODE_PREFIX.length());
          }
          return cn.isEmpty() ? Optional.empty() : Optional.of(cn);
        }
      }
      return Optional.empty();
    } catch (InvalidNameException e) {
      return Optional.empty();
    }
  }

  /** The identity of a TLS session's verified peer; empty when the peer sent no certificate. */
  public static Optional<String> of(SSLSession session) {
    try {
      Certificate[] chain = session.getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate x ? of(x) : Optional.empty();
    } catch (SSLPeerUnverifiedException e) {
      return Optional.empty();
    }
  }
}
