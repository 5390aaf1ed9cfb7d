package io.bucketdisk.nbd.server;

import io.bucketdisk.nbd.access.ExportAccess;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;

/**
 * How the server runs.
 *
 * @param tls TLS context offered through NBD_OPT_STARTTLS, or null for no TLS
 * @param tlsRequired refuse everything but STARTTLS and ABORT before TLS (FORCEDTLS)
 * @param maxInFlight requests in flight per connection before the reader stops reading (at least 128)
 * @param maxInFlightBytes payload bytes in flight per connection (at least one maximum payload)
 * @param shutdownGrace how long a stopping server waits for clients to disconnect on their own
 * @param platformReaders run each connection's two reader threads as platform threads (faster wake-ups from
 *     blocking socket reads) instead of virtual ones; pipelined requests run on virtual threads either way
 * @param handshakeTimeout how long a client may take from connecting to the end of the handshake before the
 *     server closes the connection (a stalled client must not hold a connection forever)
 * @param clientCertificates mutual TLS: every TCP connection must STARTTLS (FORCEDTLS there; Unix sockets, the node's
 *     own, stay as they are) and show a client certificate the context's trust manager accepts; its name decides
 *     through {@code access} which exports the connection may list and open
 * @param access which exports a connection with a verified client certificate may list and open
 */
public record ServerOptions(
    @Nullable SSLContext tls,
    boolean tlsRequired,
    int maxInFlight,
    int maxInFlightBytes,
    Duration shutdownGrace,
    boolean platformReaders,
    Duration handshakeTimeout,
    boolean clientCertificates,
    ExportAccess access) {

  public ServerOptions {
    if ((tlsRequired || clientCertificates) && tls == null) {
      throw new IllegalArgumentException("TLS required but no certificate configured");
    }
    if (maxInFlight < 1 || maxInFlightBytes < PayloadBuffers.maxLease()) {
      throw new IllegalArgumentException("in-flight bounds too small");
    }
    if (handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
      throw new IllegalArgumentException("handshake timeout must be positive");
    }
  }

  /** These options with the given shutdown grace period. */
  public ServerOptions withShutdownGrace(Duration grace) {
    return new ServerOptions(tls, tlsRequired, maxInFlight, maxInFlightBytes, grace, platformReaders, handshakeTimeout,
        clientCertificates, access);
  }

  /** These options with virtual-thread ({@code false}) or platform-thread ({@code true}) readers. */
  public ServerOptions withPlatformReaders(boolean platform) {
    return new ServerOptions(tls, tlsRequired, maxInFlight, maxInFlightBytes, shutdownGrace, platform,
        handshakeTimeout, clientCertificates, access);
  }

  /** These options with the given handshake timeout. */
  public ServerOptions withHandshakeTimeout(Duration timeout) {
    return new ServerOptions(tls, tlsRequired, maxInFlight, maxInFlightBytes, shutdownGrace, platformReaders, timeout,
        clientCertificates, access);
  }

  /**
   * No TLS, 256 requests and 128 MiB in flight per connection, 5 s shutdown grace, platform-thread readers, 30 s
   * handshake timeout.
   */
  public static ServerOptions defaults() {
    return new ServerOptions(null, false, 256, 128 << 20, Duration.ofSeconds(5), true, Duration.ofSeconds(30), false,
        ExportAccess.ALL);
  }

  /** These options with TLS. */
  public ServerOptions withTls(SSLContext context, boolean required) {
    return new ServerOptions(context, required, maxInFlight, maxInFlightBytes, shutdownGrace, platformReaders,
        handshakeTimeout, clientCertificates, access);
  }

  /**
   * These options with mutual TLS on TCP: {@code context} must verify clients (a trust manager over the client CA);
   * {@code access} decides what each verified node may open.
   */
  public ServerOptions withClientCertificates(SSLContext context, ExportAccess access) {
    return new ServerOptions(context, tlsRequired, maxInFlight, maxInFlightBytes, shutdownGrace, platformReaders,
        handshakeTimeout, true, access);
  }
}
