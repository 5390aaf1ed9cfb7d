package io.bucketdisk.store.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A loopback HTTP proxy in front of an S3 endpoint that injects failures, for retry and fault tests. Point an S3
 * client at {@link #endpoint()} (e.g. {@link S3ProxyFixture#storeUrl(URI, String, String)}).
 *
 * <p>Every request goes over its own upstream connection ({@code Connection: close} is forced), so faults apply to
 * whole requests. A request gets the next queued fault ({@link #failNext}), else a random fault with the configured
 * probability ({@link #failRandomly}), else passes through (after {@link #delay} if set). Faults:
 *
 * <ul>
 *   <li>{@link Fault#INTERNAL_ERROR} — {@code 500 InternalError}, request not forwarded;
 *   <li>{@link Fault#SLOW_DOWN} — {@code 503 SlowDown}, request not forwarded;
 *   <li>{@link Fault#RESET} — the connection is reset before anything is forwarded;
 *   <li>{@link Fault#LOST_RESPONSE} — the request is forwarded and executed, then the connection is reset instead of
 *       returning the response (the write happened, the client does not know);
 *   <li>{@link Fault#DELAY} — forwarded after {@link #delay}.
 * </ul>
 *
 * Thread safe; one virtual thread per connection.
 */
public final class FaultyS3Proxy implements AutoCloseable {

  /** What to do to one request. */
  public enum Fault {
    INTERNAL_ERROR,
    SLOW_DOWN,
    RESET,
    LOST_RESPONSE,
    DELAY
  }

  private record Queued(Fault fault, @Nullable String method) {}

  private final URI upstream;
  private final ServerSocket server;
  private final Thread acceptor;
  private final ArrayDeque<Queued> queue = new ArrayDeque<>();
  private final AtomicInteger requests = new AtomicInteger();
  private final AtomicInteger injected = new AtomicInteger();
  private @Nullable Fault randomFault;
  private double randomFraction;
  private Random random = new Random(1);
  private volatile Duration delay = Duration.ZERO;
  private volatile long refusePlainBodiesFrom = Long.MAX_VALUE;
  private volatile boolean closed;

  private FaultyS3Proxy(URI upstream) throws IOException {
    this.upstream = upstream;
    this.server = new ServerSocket();
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 128);
    this.acceptor = Thread.ofVirtual().name("faulty-s3-accept").start(this::acceptLoop);
  }

  /** Starts a proxy on 127.0.0.1:0 forwarding to {@code upstream} ({@code http://host:port}). */
  public static FaultyS3Proxy start(URI upstream) throws IOException {
    return new FaultyS3Proxy(upstream);
  }

  /** {@code http://127.0.0.1:<port>}. */
  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + server.getLocalPort());
  }

  /** Fails the next {@code count} requests with {@code fault}. */
  public void failNext(int count, Fault fault) {
    failNext(count, fault, null);
  }

  /** Fails the next {@code count} requests whose HTTP method is {@code method} (any when null) with {@code fault}. */
  public synchronized void failNext(int count, Fault fault, @Nullable String method) {
    for (int i = 0; i < count; i++) {
      queue.add(new Queued(fault, method));
    }
  }

  /** From now on, fails each request with {@code fault} with probability {@code fraction} (seeded). */
  public synchronized void failRandomly(Fault fault, double fraction, long seed) {
    this.randomFault = fault;
    this.randomFraction = fraction;
    this.random = new Random(seed);
  }

  /** The delay applied by {@link Fault#DELAY}. */
  public void delay(Duration d) {
    this.delay = d;
  }

  /**
   * From now on, refuses every PUT of at least {@code bytes} sent as a plain body (not aws-chunked) with 400
   * InvalidRequest, as a server that takes only the SDK's default upload form would.
   */
  public void refusePlainBodiesFrom(long bytes) {
    refusePlainBodiesFrom = bytes;
  }

  /** Drops queued and random faults. */
  public synchronized void clear() {
    queue.clear();
    randomFault = null;
    randomFraction = 0;
  }

  /** Requests seen so far. */
  public int requests() {
    return requests.get();
  }

  /** Faults injected so far. */
  public int faultsInjected() {
    return injected.get();
  }

  private synchronized @Nullable Fault pick(String method) {
    for (var it = queue.iterator(); it.hasNext(); ) {
      Queued q = it.next();
      if (q.method() == null || q.method().equalsIgnoreCase(method)) {
        it.remove();
        return q.fault();
      }
    }
    if (randomFault != null && random.nextDouble() < randomFraction) {
      return randomFault;
    }
    return null;
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket client = server.accept();
        Thread.ofVirtual().name("faulty-s3-conn").start(() -> handle(client));
      } catch (IOException e) {
        if (!closed) {
          continue;
        }
        return;
      }
    }
  }

  private void handle(Socket client) {
    try (client) {
      client.setSoTimeout(30_000);
      InputStream in = client.getInputStream();
      byte[] head = readHead(in);
      if (head == null) {
        return;
      }
      requests.incrementAndGet();
      String headText = new String(head, StandardCharsets.ISO_8859_1);
      String method = headText.substring(0, Math.max(0, headText.indexOf(' ')));
      Fault fault = pick(method);
      if (fault != null) {
        injected.incrementAndGet();
      }
      if (fault == null && method.equals("PUT") && plainBodyOfAtLeast(headText, refusePlainBodiesFrom)) {
        injected.incrementAndGet();
        answerWithError(client, in, headText, method, 400, "InvalidRequest", "Bad Request");
        return;
      }
      if (fault == Fault.RESET) {
        reset(client);
        return;
      }
      if (fault == Fault.SLOW_DOWN) {
        answerWithError(client, in, headText, method, 503, "SlowDown", "Slow Down");
        return;
      }
      if (fault == Fault.INTERNAL_ERROR) {
        answerWithError(client, in, headText, method, 500, "InternalError", "Internal Server Error");
        return;
      }
      if (fault == Fault.DELAY) {
        Thread.sleep(delay.toMillis());
      }
      forward(client, in, headText, fault == Fault.LOST_RESPONSE);
    } catch (IOException | InterruptedException e) {
      // the client or upstream went away: nothing to report, the client sees a broken connection
    }
  }

  private void forward(Socket client, InputStream in, String headText, boolean loseResponse) throws IOException {
    try (Socket up = new Socket(upstream.getHost(), upstream.getPort())) {
      up.setSoTimeout(30_000);
      StringBuilder rewritten = new StringBuilder();
      String[] lines = headText.split("\r\n");
      for (String line : lines) {
        if (line.isEmpty() || line.toLowerCase(Locale.ROOT).startsWith("connection:")) {
          continue;
        }
        rewritten.append(line).append("\r\n");
      }
      rewritten.append("Connection: close\r\n\r\n");
      OutputStream upOut = up.getOutputStream();
      upOut.write(rewritten.toString().getBytes(StandardCharsets.ISO_8859_1));
      upOut.flush();
      Thread pump = Thread.ofVirtual().start(() -> {
        try {
          in.transferTo(upOut);
        } catch (IOException e) {
          // closed when the exchange ends
        }
      });
      try {
        if (loseResponse) {
          up.getInputStream().transferTo(OutputStream.nullOutputStream());
          reset(client);
        } else {
          up.getInputStream().transferTo(client.getOutputStream());
          client.getOutputStream().flush();
        }
      } finally {
        up.close();
        client.close();
        pump.interrupt();
      }
    }
  }

  private static boolean plainBodyOfAtLeast(String headText, long bytes) {
    String lower = headText.toLowerCase(Locale.ROOT);
    if (lower.contains("\r\nx-amz-decoded-content-length:")) {
      return false;
    }
    int at = lower.indexOf("\r\ncontent-length:");
    if (at < 0) {
      return false;
    }
    int end = lower.indexOf("\r\n", at + 2);
    return Long.parseLong(lower.substring(at + "\r\ncontent-length:".length(), end).trim()) >= bytes;
  }

  /** Reads the request's body (unless the client waits for 100-continue) and answers with an S3 error document. */
  private static void answerWithError(Socket client, InputStream in, String headText, String method, int status,
      String code, String reason) throws IOException {
    if (!headText.toLowerCase(Locale.ROOT).contains("\r\nexpect: 100-continue")) {
      drainBody(in, headText);
    }
    OutputStream out = client.getOutputStream();
    String body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>injected by "
        + "FaultyS3Proxy</Message><RequestId>faulty</RequestId></Error>";
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    boolean head = method.equalsIgnoreCase("HEAD");
    String response = "HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: application/xml\r\nContent-Length: "
        + (head ? 0 : bytes.length) + "\r\nConnection: close\r\nx-amz-request-id: faulty\r\n\r\n";
    out.write(response.getBytes(StandardCharsets.ISO_8859_1));
    if (!head) {
      out.write(bytes);
    }
    out.flush();
  }

  private static void reset(Socket s) throws IOException {
    s.setSoLinger(true, 0);
    s.close();
  }

  /** Reads up to and including the blank line; null on EOF before a request. */
  private static byte @Nullable [] readHead(InputStream in) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream(1024);
    int state = 0;
    while (true) {
      int b = in.read();
      if (b < 0) {
        return null;
      }
      buf.write(b);
      state = switch (state) {
        case 0, 2 -> b == '\r' ? state + 1 : 0;
        case 1 -> b == '\n' ? 2 : (b == '\r' ? 1 : 0);
        case 3 -> b == '\n' ? 4 : (b == '\r' ? 1 : 0);
        default -> 0;
      };
      if (state == 4) {
        return buf.toByteArray();
      }
      if (buf.size() > 64 * 1024) {
        throw new IOException("request head too long");
      }
    }
  }

  private static void drainBody(InputStream in, String headText) throws IOException {
    String lower = headText.toLowerCase(Locale.ROOT);
    int i = lower.indexOf("\r\ncontent-length:");
    if (i >= 0) {
      int end = lower.indexOf("\r\n", i + 2);
      long n = Long.parseLong(lower.substring(i + "\r\ncontent-length:".length(), end).trim());
      in.skipNBytes(n);
      return;
    }
    if (lower.contains("\r\ntransfer-encoding: chunked")) {
      // read chunk by chunk until the zero-length chunk and its trailer
      while (true) {
        StringBuilder line = new StringBuilder();
        int b;
        while ((b = in.read()) >= 0 && b != '\n') {
          line.append((char) b);
        }
        if (b < 0) {
          return;
        }
        String size = line.toString().trim();
        int semi = size.indexOf(';');
        long n = Long.parseLong(semi < 0 ? size : size.substring(0, semi), 16);
        if (n == 0) {
          // trailer lines until an empty one
          while (true) {
            int len = 0;
            while ((b = in.read()) >= 0 && b != '\n') {
              if (b != '\r') {
                len++;
              }
            }
            if (b < 0 || len == 0) {
              return;
            }
          }
        }
        in.skipNBytes(n + 2);
      }
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    server.close();
    acceptor.interrupt();
  }
}
