package io.bucketdisk.rpc;

import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.common.tls.TlsFiles;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import org.jspecify.annotations.Nullable;

/**
 * gRPC channels to a gateway's control API, the one way the node plugin and the controller dial it: a Unix socket is
 * plain (the node's own, behind its directory's permissions); TCP is mutual TLS when {@link TlsFiles} are given (this
 * side's certificate, which names it, and the CA the gateway's certificate must chain to; rotated files are used by
 * the next connection), and plain otherwise (a loopback gateway, or a lab gateway started with {@code --insecure}).
 */
public final class GatewayChannels {
  private GatewayChannels() {}

  /** A lazily connecting channel to {@code endpoint}. */
  public static ManagedChannel open(Endpoint endpoint, @Nullable TlsFiles tls) {
    return Grpc.newChannelBuilder(endpoint.target(), credentials(endpoint, tls)).build();
  }

  static ChannelCredentials credentials(Endpoint endpoint, @Nullable TlsFiles tls) {
    if (endpoint instanceof Endpoint.Unix || tls == null) {
      return InsecureChannelCredentials.create();
    }
    var b = TlsChannelCredentials.newBuilder();
    tls.keyManager().ifPresent(b::keyManager);
    tls.trustManager().ifPresent(b::trustManager);
    return b.build();
  }
}
