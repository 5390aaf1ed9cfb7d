package io.bucketdisk.common.net;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Where something listens or is reached, as a user writes it: a TCP host and port, or a Unix socket. One grammar for
 * every flag and record that names a socket ({@code gateway --listen}, {@code --control}, {@code --metrics}, CSI
 * {@code --endpoint}, {@code node --gateway}, a lease's control address):
 *
 * <pre>
 *   unix:///absolute/path.sock   unix:/absolute/path.sock   /absolute/path.sock      a Unix socket
 *   tcp://HOST:PORT   HOST:PORT   [IPV6]:PORT   :PORT (every interface)               TCP; port 0 picks a free one
 * </pre>
 *
 * <p>Immutable values. {@link #parse} throws {@link IllegalArgumentException} whose message names the text and ends
 * with {@link #GRAMMAR}; {@link #toString} gives the canonical form ({@code unix:///path}, {@code tcp://host:port}),
 * which {@link #parse} reads back.
 */
public sealed interface Endpoint permits Endpoint.Tcp, Endpoint.Unix {

  /** The accepted forms; the end of every refusal's message. */
  String GRAMMAR = "use unix:///absolute/path.sock, or tcp://HOST:PORT (also HOST:PORT, [IPV6]:PORT, :PORT; port 0"
      + " picks a free one)";

  /** The longest Unix socket path Linux accepts (sun_path is 108 bytes with its terminating NUL). */
  int MAX_UNIX_PATH = 107;

  /** The socket address to bind or connect to; a TCP host name is resolved at each call. */
  SocketAddress socketAddress() throws UnknownHostException;

  /**
   * The short form clients and logs take as a target: {@code host:port} (IPv6 in brackets) for TCP, {@code
   * unix:///path} for a Unix socket. grpc-java's {@code forTarget} accepts both.
   */
  default String target() {
    return this instanceof Tcp tcp ? tcp.hostPort() : toString();
  }

  /** A TCP endpoint. {@code host} is a name, an IPv4 or an IPv6 literal (no brackets), or empty for every interface. */
  record Tcp(String host, int port) implements Endpoint {
    public Tcp {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port " + port + " is not from 0 to 65535");
      }
    }

    @Override
    public InetSocketAddress socketAddress() throws UnknownHostException {
      return host.isEmpty() ? new InetSocketAddress(port) : new InetSocketAddress(InetAddress.getByName(host), port);
    }

    /** The address without a DNS lookup (for clients that resolve later, such as grpc-java). */
    public InetSocketAddress unresolved() {
      return InetSocketAddress.createUnresolved(host.isEmpty() ? "0.0.0.0" : host, port);
    }

    /** Whether only this machine can reach it: a loopback name or address (127.0.0.0/8, ::1, localhost). */
    public boolean isLoopback() {
      if (host.equalsIgnoreCase("localhost")) {
        return true;
      }
      try {
        return !host.isEmpty() && isLiteral(host) && InetAddress.getByName(host).isLoopbackAddress();
      } catch (UnknownHostException e) {
        return false;
      }
    }

    /** {@code host:port}, IPv6 in brackets: the form grpc-java and most tools take as a target. */
    public String hostPort() {
      return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    @Override
    public String toString() {
      return "tcp://" + hostPort();
    }

    private static boolean isLiteral(String host) {
      return host.contains(":") || host.chars().allMatch(c -> c == '.' || Character.isDigit(c));
    }
  }

  /** A Unix domain socket at an absolute path. */
  record Unix(Path path) implements Endpoint {
    public Unix {
      if (!path.isAbsolute()) {
        throw new IllegalArgumentException("a Unix socket path must be absolute: " + path);
      }
      if (path.toString().getBytes(StandardCharsets.UTF_8).length > MAX_UNIX_PATH) {
        throw new IllegalArgumentException("the Unix socket path " + path + " is longer than " + MAX_UNIX_PATH
            + " bytes, the kernel's limit; use a shorter directory");
      }
    }

    @Override
    public UnixDomainSocketAddress socketAddress() {
      return UnixDomainSocketAddress.of(path);
    }

    @Override
    public String toString() {
      return "unix://" + path;
    }
  }

  /** Parses {@code text} (surrounding blanks ignored); throws with a message ending in {@link #GRAMMAR}. */
  static Endpoint parse(String text) {
    String t = text.strip();
    if (t.startsWith("unix:") || t.startsWith("/")) {
      String p = t.startsWith("unix://") ? t.substring(7) : t.startsWith("unix:") ? t.substring(5) : t;
      if (!p.startsWith("/") || p.length() == 1) {
        throw new IllegalArgumentException(error(text));
      }
      try {
        return new Unix(Path.of(p));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("'" + t + "': " + e.getMessage());
      }
    }
    String hp = t.startsWith("tcp://") ? t.substring(6) : t;
    int colon = hp.lastIndexOf(':');
    if (colon < 0 || colon == hp.length() - 1 || hp.contains("/")) {
      throw new IllegalArgumentException(error(text));
    }
    String host = hp.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.contains(":") || host.contains("[") || host.contains("]")) {
      throw new IllegalArgumentException(error(text) + " (an IPv6 address goes in brackets)");
    }
    String portText = hp.substring(colon + 1);
    if (!portText.chars().allMatch(Character::isDigit) || portText.length() > 5
        || Integer.parseInt(portText) > 65535) {
      throw new IllegalArgumentException("'" + t + "': the port must be a number from 0 to 65535; " + GRAMMAR);
    }
    return new Tcp(host, Integer.parseInt(portText));
  }

  /** Parses a TCP endpoint; a Unix socket is refused naming {@code what} (e.g. "--metrics"). */
  static Tcp parseTcp(String text, String what) {
    if (parse(text) instanceof Tcp tcp) {
      return tcp;
    }
    throw new IllegalArgumentException(what + " '" + text.strip() + "' must be TCP: use tcp://HOST:PORT or HOST:PORT");
  }

  /** Parses a Unix socket endpoint; TCP is refused naming {@code what} (e.g. "--endpoint"). */
  static Unix parseUnix(String text, String what) {
    Endpoint e;
    try {
      e = parse(text);
    } catch (IllegalArgumentException ex) {
      throw new IllegalArgumentException(what + " " + ex.getMessage());
    }
    if (e instanceof Unix unix) {
      return unix;
    }
    throw new IllegalArgumentException(what + " '" + text.strip() + "' must be a Unix socket: use "
        + "unix:///absolute/path.sock");
  }

  /** The endpoint of a bound or connected socket address. */
  static Endpoint of(SocketAddress address) {
    if (address instanceof UnixDomainSocketAddress unix) {
      return new Unix(unix.getPath().toAbsolutePath());
    }
    if (address instanceof InetSocketAddress inet) {
      String host = inet.getAddress() != null ? inet.getAddress().getHostAddress() : inet.getHostString();
      int zone = host.indexOf('%');
      return new Tcp(zone >= 0 ? host.substring(0, zone) : host, inet.getPort());
    }
    throw new IllegalArgumentException("not a TCP or Unix socket address: " + address);
  }

  /** The refusal for {@code text}. */
  static String error(String text) {
    return "'" + text.strip() + "' is not an endpoint; " + GRAMMAR;
  }
}
