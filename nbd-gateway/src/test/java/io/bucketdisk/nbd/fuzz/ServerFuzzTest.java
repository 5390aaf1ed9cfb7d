package io.bucketdisk.nbd.fuzz;

import static io.bucketdisk.nbd.wire.NbdConstants.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.RawClient;
import io.bucketdisk.nbd.TestServer;
import io.bucketdisk.nbd.server.NbdListener;
import io.bucketdisk.nbd.wire.OptionCodec;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Seeded random sessions against the real server: the handshake gets valid, mutated and random options, the
 * transmission phase random headers (mostly well framed, with random types, flags, offsets and lengths). After
 * every session the client half-closes; the server must close its side promptly. At the end no connection may
 * be left, no pooled buffer leased, no runtime exception caught inside the server, and a normal client works.
 */
@Timeout(60)
class ServerFuzzTest {
  static final long SEED = Long.getLong("fuzz.seed", 42L);
  static final long BUDGET_NANOS = 10_000_000_000L;

  @Test
  void randomSessionsNeverBreakTheServer() throws Exception {
    var rnd = new Random(SEED);
    long bugsBefore = NbdListener.internalErrors();
    try (var server = new TestServer()) {
      long end = System.nanoTime() + BUDGET_NANOS;
      int sessions = 0;
      while (System.nanoTime() < end && sessions < 2000) {
        long sessionSeed = rnd.nextLong();
        byte[] script = session(new Random(sessionSeed));
        try (var c = server.client()) {
          Thread writer = Thread.ofVirtual().start(() -> {
            try {
              c.write(ByteBuffer.wrap(script));
              c.channel.shutdownOutput();
            } catch (java.io.IOException e) {
              // the server may close first: fine
            }
          });
          assertThat(drainUntilClosed(c, 5000))
              .as("seed %d session %d (%d bytes): server closed after client EOF", SEED, sessionSeed, script.length)
              .isTrue();
          writer.join(5000);
        }
        sessions++;
      }
      for (int i = 0; i < 500 && server.listener.connectionCount() > 0; i++) {
        Thread.sleep(10);
      }
      assertThat(server.listener.connectionCount()).as("connections left behind").isZero();
      for (int i = 0; i < 500 && readerThreads() > 0; i++) {
        Thread.sleep(10);
      }
      assertThat(readerThreads()).as("connection reader threads still alive").isZero();
      for (int i = 0; i < 100 && server.listener.leasedBuffers() > 0; i++) {
        Thread.sleep(10);
      }
      assertThat(server.listener.leasedBuffers()).as("pooled buffers leaked").isZero();
      assertThat(NbdListener.internalErrors() - bugsBefore).as("runtime exceptions inside the server").isZero();
      assertThat(sessions).isGreaterThan(50);
      try (var c = server.client().open("demo", true)) {
        c.request(0, CMD_READ, 1, 0, 4096);
        assertThat(c.status(4096)).isZero();
      }
    }
  }

  static long readerThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith("nbd-reader-") && t.isAlive())
        .count();
  }

  static boolean drainUntilClosed(RawClient c, long millis) throws Exception {
    var buf = ByteBuffer.allocate(1 << 16);
    long deadline = System.nanoTime() + millis * 1_000_000L;
    c.channel.configureBlocking(false);
    while (System.nanoTime() < deadline) {
      buf.clear();
      int n;
      try {
        n = c.channel.read(buf);
      } catch (java.io.IOException e) {
        return true;
      }
      if (n < 0) {
        return true;
      }
      if (n == 0) {
        Thread.sleep(2);
      }
    }
    return false;
  }

  static byte[] session(Random rnd) {
    var out = new ByteArrayOutputStream();
    int cflags = rnd.nextInt(10) == 0 ? rnd.nextInt() : FLAG_C_FIXED_NEWSTYLE | (rnd.nextBoolean() ? 2 : 0);
    put(out, ByteBuffer.allocate(4).putInt(cflags).array());
    boolean structured = false;
    boolean extended = false;
    int options = rnd.nextInt(6);
    for (int i = 0; i < options; i++) {
      int opt = rnd.nextInt(14);
      byte[] data =
          switch (rnd.nextInt(4)) {
            case 0 -> array(OptionCodec.encodeExportRequest(rnd.nextBoolean() ? "demo" : "x", 0, 1, 3));
            case 1 -> array(OptionCodec.encodeMetaContextRequest("demo", List.of("base:allocation", "bucketdisk:")));
            case 2 -> CodecFuzzTest.mutate(rnd, array(OptionCodec.encodeExportRequest("demo", 2)));
            default -> new byte[0];
          };
      if (opt == OPT_STRUCTURED_REPLY && data.length == 0) {
        structured = true;
      }
      if (opt == OPT_EXTENDED_HEADERS && data.length == 0) {
        extended = true;
      }
      if (opt == OPT_STARTTLS || opt == OPT_GO || opt == OPT_EXPORT_NAME || opt == OPT_ABORT) {
        opt = OPT_INFO;
      }
      int announced = rnd.nextInt(20) == 0 ? rnd.nextInt(1 << 17) : data.length;
      put(out, ByteBuffer.allocate(16).putLong(rnd.nextInt(30) == 0 ? rnd.nextLong() : IHAVEOPT)
          .putInt(opt).putInt(announced).array());
      put(out, java.util.Arrays.copyOf(data, Math.min(announced, data.length + 64)));
    }
    if (rnd.nextInt(3) > 0) {
      var ctx = OptionCodec.encodeMetaContextRequest("demo", List.of("base:allocation", "bucketdisk:dirty"));
      put(out, ByteBuffer.allocate(16).putLong(IHAVEOPT).putInt(OPT_SET_META_CONTEXT).putInt(ctx.remaining())
          .array());
      put(out, array(ctx));
      byte[] go = array(OptionCodec.encodeExportRequest("demo"));
      put(out, ByteBuffer.allocate(16).putLong(IHAVEOPT).putInt(OPT_GO).putInt(go.length).array());
      put(out, go);
      int requests = rnd.nextInt(40);
      for (int i = 0; i < requests; i++) {
        request(out, rnd, extended);
      }
    }
    return out.toByteArray();
  }

  static void request(ByteArrayOutputStream out, Random rnd, boolean extended) {
    int type = rnd.nextInt(5) == 0 ? rnd.nextInt(12) : rnd.nextInt(8);
    if (type == CMD_DISC && rnd.nextBoolean()) {
      type = CMD_READ;
    }
    int flags = rnd.nextInt(4) == 0 ? rnd.nextInt(1 << 16) : rnd.nextInt(64);
    long offset = switch (rnd.nextInt(4)) {
      case 0 -> rnd.nextLong();
      case 1 -> (64L << 20) - rnd.nextInt(8192);
      default -> rnd.nextInt(1 << 20);
    };
    long length = switch (rnd.nextInt(6)) {
      case 0 -> rnd.nextInt() & 0xffffffffL;
      case 1 -> 0;
      default -> rnd.nextInt(65536);
    };
    var h = ByteBuffer.allocate(32);
    h.putInt(rnd.nextInt(50) == 0 ? rnd.nextInt() : extended ? EXTENDED_REQUEST_MAGIC : REQUEST_MAGIC);
    h.putShort((short) flags).putShort((short) type).putLong(rnd.nextLong()).putLong(offset);
    if (extended) {
      h.putLong(length);
    } else {
      h.putInt((int) length);
    }
    put(out, java.util.Arrays.copyOf(h.array(), h.position()));
    boolean payload = type == CMD_WRITE || (extended && (flags & CMD_FLAG_PAYLOAD_LEN) != 0);
    if (payload && length <= 1 << 17) {
      byte[] p = new byte[(int) length];
      rnd.nextBytes(p);
      put(out, p);
    }
  }

  static byte[] array(ByteBuffer b) {
    return CodecFuzzTest.array(b);
  }

  static void put(ByteArrayOutputStream out, byte[] b) {
    out.write(b, 0, b.length);
  }
}
