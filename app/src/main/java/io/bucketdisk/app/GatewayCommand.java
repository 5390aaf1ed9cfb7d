package io.bucketdisk.app;

import io.bucketdisk.store.object.ObjectStores;
import io.bucketdisk.common.net.Endpoint;
import io.bucketdisk.nbd.export.ExportProvider;
import io.bucketdisk.nbd.export.MemoryExportProvider;
import io.bucketdisk.nbd.server.NbdListener;
import io.bucketdisk.nbd.server.ServerOptions;
import io.bucketdisk.nbd.tls.TlsConfig;
import io.bucketdisk.common.tls.TlsFiles;
import io.bucketdisk.nbd.access.ExportAccess;
import io.bucketdisk.nbd.access.PublicationAccess;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.BindException;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bucketdisk gateway}: the per-node NBD gateway daemon. Serves the volumes of a store as NBD exports on
 * TCP and Unix sockets until SIGTERM/SIGINT, then stops as a lame duck (ERR_SHUTDOWN / ESHUTDOWN to new work,
 * in-flight requests finish) and closes the provider, which flushes everything acknowledged.
 */
@Command(
    name = "gateway",
    mixinStandardHelpOptions = true,
    description = "Run the NBD gateway: serve the store's volumes over NBD (TCP and Unix sockets).")
public final class GatewayCommand implements Callable<Integer> {
  static final long DEMO_SIZE = 1L << 30;

  @Spec CommandSpec spec;

  @Option(
      names = "--store",
      required = true,
      paramLabel = "URL",
      description = "Where volumes live: memory:// (a 1 GiB in-memory 'demo'), file:///abs/dir or s3://bucket/prefix?...")
  String store;

  @Option(
      names = "--listen",
      paramLabel = "ADDR",
      split = ",",
      defaultValue = "unix:///run/bucketdisk/nbd.sock",
      description = "NBD listen addresses: unix:///path, HOST:PORT or [IPV6]:PORT (repeatable; default: ${DEFAULT-VALUE}). "
          + "TCP beyond loopback needs --tls-client-ca (or --insecure).")
  List<String> listen;

  @Option(names = "--tls-cert", paramLabel = "PEM", description = "X.509 certificate chain (PEM) offered with NBD STARTTLS.")
  @Nullable Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM", description = "PKCS#8 private key (PEM) for --tls-cert.")
  @Nullable Path tlsKey;

  @Option(names = "--tls-keystore", paramLabel = "P12", description = "PKCS#12 keystore instead of --tls-cert/--tls-key; password from env BUCKETDISK_TLS_PASSWORD.")
  @Nullable Path tlsKeystore;

  @Option(names = "--tls-required", description = "Refuse clients that do not start TLS (needs a certificate).")
  boolean tlsRequired;

  @Option(names = "--tls-client-ca", paramLabel = "PEM",
      description = "CA bundle (PEM) for mutual TLS on every TCP listener (NBD and --control): clients must STARTTLS "
          + "with a certificate from this CA, whose CN names their node; each node may open only the volumes "
          + "published to it. Needed for any TCP listener beyond loopback. Files are re-read when they change.")
  @Nullable Path tlsClientCa;

  @Option(names = "--insecure",
      description = "Allow TCP listeners beyond loopback without --tls-client-ca: anyone who can reach them can read "
          + "and write every volume. For labs only; logs a warning.")
  boolean insecure;

  @Option(
      names = "--control",
      paramLabel = "ADDR",
      split = ",",
      defaultValue = "unix:///run/bucketdisk/control.sock",
      description = "Control gRPC API addresses: unix:///path or tcp://HOST:PORT (repeatable; TCP is mutual TLS with "
          + "--tls-client-ca; default: ${DEFAULT-VALUE}).")
  List<String> control;

  @Option(
      names = "--control-advertise",
      paramLabel = "ADDR",
      description = "Control address written into volume leases for the controller to dial (default: the TCP "
          + "--control with a wildcard host replaced by $POD_IP when set, else the first --control).")
  @Nullable String controlAdvertise;

  @Option(
      names = "--cache-size",
      paramLabel = "SIZE",
      defaultValue = "1Gi",
      description = "Chunk cache memory (clean + dirty chunks), a Kubernetes quantity, e.g. 512Mi or 4Gi (default: ${DEFAULT-VALUE}).")
  String cacheSize;

  @Option(names = "--disk-cache", paramLabel = "DIR",
      description = "Directory for an optional local disk tier below the RAM cache (e.g. a node's NVMe); its file is "
          + "recreated empty at start. Needs --disk-cache-size.")
  @Nullable Path diskCache;

  @Option(names = "--disk-cache-size", paramLabel = "SIZE",
      description = "Size of the disk tier's file, a Kubernetes quantity, e.g. 100Gi (with --disk-cache).")
  @Nullable String diskCacheSize;

  @Option(names = "--metrics", paramLabel = "HOST:PORT",
      description = "Serve Prometheus metrics at /metrics and liveness at /healthz, e.g. 0.0.0.0:9810.")
  @Nullable String metrics;

  @Override
  public Integer call() throws Exception {
    var addresses = new ArrayList<SocketAddress>();
    for (String a : listen) {
      try {
        addresses.add(Endpoint.parse(a).socketAddress());
      } catch (IllegalArgumentException | java.net.UnknownHostException e) {
        throw new UserError("--listen " + e.getMessage());
      }
    }
    control.forEach(c -> checkControl("--control", c));
    TlsFiles mutual = mutualTls(listen, control, tlsCert, tlsKey, tlsKeystore, tlsClientCa, insecure);
    var options = ServerOptions.defaults();
    SSLContext tls = mutual != null ? mutual.context() : tls(tlsCert, tlsKey, tlsKeystore);
    if (tls != null) {
      options = options.withTls(tls, tlsRequired);
    } else if (tlsRequired) {
      throw new UserError("--tls-required needs a certificate: add --tls-cert and --tls-key (or --tls-keystore)");
    }
    String advertise = controlAdvertise != null ? controlAdvertise : advertise(control, System.getenv("POD_IP"));
    checkControl("--control-advertise", advertise);
    if (store.startsWith("memory:") && (diskCache != null || diskCacheSize != null)) {
      throw new UserError("--disk-cache: a memory:// store has no chunk cache; use it with file:// or s3://");
    }
    var disk = StoreWiring.diskTier(diskCache, diskCacheSize);
    Operations ops = Operations.start(metrics);
    ExportProvider provider = provider(store, advertise, runDirectory(control), cacheSize, disk, ops);
    if (mutual != null && tls != null) {
      ExportAccess access = provider instanceof io.bucketdisk.nbd.export.VolumeExportProvider v
          && v.volumes().catalog().isPresent() ? new PublicationAccess(v.volumes().catalog().get()) : ExportAccess.ALL;
      options = options.withClientCertificates(tls, access);
    }
    if (provider instanceof io.bucketdisk.nbd.export.VolumeExportProvider volumes) {
      control.forEach(c -> StoreWiring.startControl(c, volumes.volumes(), mutual));
    }
    serve(ops == null ? provider : ops.gateway(provider), addresses, options, spec.commandLine().getOut(), null, ops);
    return 0;
  }

  /**
   * The control address to write into leases when {@code --control-advertise} is not given: the first TCP {@code
   * --control}, its wildcard host (0.0.0.0, ::) replaced by {@code podIp} when set; else the first {@code --control}.
   */
  static String advertise(List<String> controls, @Nullable String podIp) {
    for (String c : controls) {
      if (!(Endpoint.parse(c) instanceof Endpoint.Tcp tcp)) {
        continue;
      }
      String host = tcp.host();
      boolean wildcard = host.isEmpty() || host.equals("0.0.0.0") || host.matches("[0:]+");
      if (!wildcard) {
        return tcp.toString();
      }
      if (podIp != null && !podIp.isBlank()) {
        return new Endpoint.Tcp(podIp.strip(), tcp.port()).toString();
      }
    }
    return controls.getFirst();
  }

  /**
   * The mutual-TLS material when {@code --tls-client-ca} is given, else null; refuses (one line naming the flag) a TCP
   * listener beyond loopback without it unless {@code insecure}, which logs a warning instead.
   */
  static @Nullable TlsFiles mutualTls(List<String> listen, List<String> control, @Nullable Path cert,
      @Nullable Path key, @Nullable Path keystore, @Nullable Path clientCa, boolean insecure) {
    var open = new ArrayList<String>();
    listen.stream().filter(GatewayCommand::beyondLoopback).forEach(a -> open.add("--listen " + a));
    control.stream().filter(GatewayCommand::beyondLoopback).forEach(a -> open.add("--control " + a));
    if (clientCa == null) {
      if (!open.isEmpty() && !insecure) {
        throw new UserError(open.getFirst() + " is reachable from other machines without authentication: add "
            + "--tls-client-ca CA.pem with --tls-cert and --tls-key (mutual TLS), or --insecure for a lab");
      }
      if (!open.isEmpty()) {
        org.slf4j.LoggerFactory.getLogger(GatewayCommand.class).warn("--insecure: {} accept(s) anyone who can reach "
            + "them, without authentication; every volume served here can be read and overwritten", open);
      }
      return null;
    }
    if (keystore != null) {
      throw new UserError("--tls-client-ca goes with --tls-cert and --tls-key (PEM files, re-read when rotated), "
          + "not --tls-keystore");
    }
    if (cert == null || key == null) {
      throw new UserError("--tls-client-ca needs this gateway's own certificate: add --tls-cert and --tls-key");
    }
    try {
      return TlsFiles.load(cert, key, clientCa);
    } catch (IOException e) {
      throw new UserError("TLS: " + e.getMessage() + ": check --tls-cert, --tls-key and --tls-client-ca");
    }
  }

  /** Whether {@code address} is a TCP endpoint another machine could reach. */
  private static boolean beyondLoopback(String address) {
    return Endpoint.parse(address) instanceof Endpoint.Tcp tcp && !tcp.isLoopback();
  }

  private static void checkControl(String flag, String address) {
    try {
      Endpoint.parse(address);
    } catch (IllegalArgumentException e) {
      throw new UserError(flag + " " + e.getMessage());
    }
  }

  /**
   * The export provider for a store URL; the one place where the store-backed provider gets plugged in. {@code runDir}
   * is where this process's instance lock goes (the directory of its Unix control socket), null for none.
   */
  static ExportProvider provider(String storeUrl, String control, @Nullable Path runDir, String cacheSize,
      @Nullable Operations ops) {
    return provider(storeUrl, control, runDir, cacheSize, null, ops);
  }

  /** As above, with {@code disk} (null: none) as the cache's disk tier (a memory:// store has no cache). */
  static ExportProvider provider(String storeUrl, String control, @Nullable Path runDir, String cacheSize,
      io.bucketdisk.engine.cache.@Nullable DiskTier disk, @Nullable Operations ops) {
    if (storeUrl.equals("memory://") || storeUrl.equals("memory:")) {
      return MemoryExportProvider.of("demo", "bucketdisk demo volume (in memory, 1 GiB)", DEMO_SIZE);
    }
    if (storeUrl.startsWith("file://") || storeUrl.startsWith("s3://")) {
      return StoreWiring.gatewayProvider(storeUrl, control, runDir, cacheSize, disk,
          ops == null ? io.bucketdisk.store.StoreMetrics.NONE : ops.storeMetrics());
    }
    throw new UserError("--store " + ObjectStores.redact(storeUrl) + ": use memory://, file:///abs/dir or s3://bucket/prefix");
  }

  /** The directory of the first Unix {@code --control} socket: where the instance lock lives. */
  static @Nullable Path runDirectory(List<String> controls) {
    for (String c : controls) {
      if (Endpoint.parse(c) instanceof Endpoint.Unix unix) {
        return unix.path().toAbsolutePath().getParent();
      }
    }
    return null;
  }

  /** Builds the STARTTLS context from the flags, or null when no TLS flag is given. */
  static @Nullable SSLContext tls(@Nullable Path cert, @Nullable Path key, @Nullable Path keystore) {
    try {
      if (keystore != null) {
        if (cert != null || key != null) {
          throw new UserError("use either --tls-keystore or --tls-cert/--tls-key, not both");
        }
        String pw = System.getenv("BUCKETDISK_TLS_PASSWORD");
        return TlsConfig.fromKeystore(keystore, pw == null ? new char[0] : pw.toCharArray());
      }
      if (cert == null && key == null) {
        return null;
      }
      if (cert == null || key == null) {
        throw new UserError("--tls-cert and --tls-key go together: give both");
      }
      return TlsConfig.fromPem(cert, key);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new UserError("TLS: no such file " + e.getFile() + ": check the --tls-* paths");
    } catch (IOException e) {
      throw new UserError("TLS: " + e.getMessage());
    }
  }

  /**
   * Serves {@code provider} on {@code addresses} until the JVM is asked to stop, then stops as a lame duck and
   * closes the provider. {@code started}, if given, runs once every address is bound (used by dev to print URIs).
   */
  static void serve(
      ExportProvider provider,
      List<SocketAddress> addresses,
      ServerOptions options,
      PrintWriter out,
      @Nullable Consumer<List<SocketAddress>> started,
      @Nullable Operations ops)
      throws InterruptedException {
    var listener = new NbdListener(provider, options);
    var stopped = new CountDownLatch(1);
    var bound = new ArrayList<SocketAddress>();
    try {
      for (SocketAddress a : addresses) {
        bound.add(bind(listener, a));
      }
    } catch (UserError e) {
      listener.stop();
      closeQuietly(provider);
      throw e;
    }
    if (ops != null) {
      ops.serving(listener, provider);
    }
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  listener.stop();
                  closeQuietly(provider);
                  stopped.countDown();
                },
                "bucketdisk-shutdown"));
    if (started != null) {
      started.accept(bound);
    } else {
      bound.forEach(a -> out.println("serving NBD on " + NbdListener.describe(a)));
    }
    out.flush();
    stopped.await();
  }

  private static SocketAddress bind(NbdListener listener, SocketAddress a) {
    if (a instanceof UnixDomainSocketAddress unix && unix.getPath().toString().length() >= 100) {
      throw new UserError("Unix socket path " + unix.getPath() + " is too long: keep it under 100 characters");
    }
    try {
      return listener.listen(a);
    } catch (BindException e) {
      throw new UserError("cannot listen on " + a + " (" + e.getMessage() + "): pick another address or port");
    } catch (IOException e) {
      throw new UserError("cannot listen on " + a + ": " + e.getMessage());
    }
  }

  private static void closeQuietly(ExportProvider provider) {
    try {
      provider.close();
    } catch (IOException e) {
      System.err.println("bucketdisk: closing the exports failed: " + e.getMessage());
    }
  }
}
