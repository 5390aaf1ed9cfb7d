package io.bucketdisk.node.nbd;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;

/**
 * Where the gateway serves NBD: {@code HOST:PORT}, {@code [V6]:PORT}, {@code unix:///abs/path} or an absolute
 * path of a Unix socket. {@link #parse} throws {@link IllegalArgumentException} with the accepted forms.
 */
public record GatewayAddress(String text) {

  public static GatewayAddress parse(String text) {
    var a = new GatewayAddress(text);
    a.socketAddress();
    return a;
  }

  /** Resolves the address (DNS for host names, at each call so a moved gateway is found again). */
  public SocketAddress socketAddress() {
    if (text.startsWith("unix://")) {
      return UnixDomainSocketAddress.of(Path.of(text.substring("unix://".length())));
    }
    if (text.startsWith("/")) {
      return UnixDomainSocketAddress.of(Path.of(text));
    }
    int colon = text.lastIndexOf(':');
    if (colon <= 0 || colon == text.length() - 1) {
      throw new IllegalArgumentException("gateway address '" + text + "': use HOST:PORT or unix:///path/nbd.sock");
    }
    String host = text.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(text.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("gateway address '" + text + "': port is not a number");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("gateway address '" + text + "': port out of range");
    }
    return new InetSocketAddress(host, port);
  }

  @Override
  public String toString() {
    return text;
  }
}
