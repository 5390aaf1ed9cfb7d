package io.bucketdisk.nbd.cache;

import java.time.Duration;
import io.bucketdisk.testing.ChildJvm;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.RawClient;
import io.bucketdisk.store.testing.S3Server;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Durability across SIGKILL: a gateway child JVM serves a volume from each real S3 server (s3proxy, Ceph RGW); the
 * test writes over NBD, FLUSHes, writes more, and SIGKILLs the process at 40 points of five kinds, in turn: after
 * unflushed writes at a random moment; while a FLUSH is in flight (its log segment uploading); while dirty chunks
 * are being folded into chunk objects (they fold 200 ms after their last change); while the next gateway replays
 * the log the previous one left (the kill lands between the NBD open and a random moment after it); and while the log
 * merger copies runs of small segments (a sync writer's 140 small FLUSHes, past {@code LogMerger.MERGE_AT}). After every
 * restart, every byte acknowledged before the last successful FLUSH is exactly there; a byte written after it holds
 * the flushed value or a value a later write wrote; and no write is torn within a chunk (its bytes that no other
 * later write touched are all new or all old).
 */
@Timeout(900)
class CacheKillDurabilityIT {
  static final int CMD_READ = 0;
  static final int CMD_WRITE = 1;
  static final int CMD_FLUSH = 3;
  static final int SIZE = (int) GatewayMain.SIZE;
  static final int KILLS = 40;
  /** Small FLUSHes of a sync writer before a kill of the fifth kind: more than {@code LogMerger.MERGE_AT}. */
  static final int SYNC_FLUSHES = 140;

  Path dir;
  ChildJvm gateway;

  @BeforeEach
  void dir() throws Exception {
    dir = Files.createTempDirectory(Path.of("/tmp"), "bdkill");
  }

  @AfterEach
  void stop() throws Exception {
    if (gateway != null) {
      gateway.close();
    }
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        Files.deleteIfExists(p);
      }
    }
    Files.deleteIfExists(dir);
  }

  int startGateway(String storeUrl, int iteration) throws Exception {
    gateway = ChildJvm.start(dir.resolve("gw-" + iteration + ".log"),
        List.of("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"), java.util.Map.of(),
        GatewayMain.class.getName(), storeUrl);
    return Integer.parseInt(gateway.awaitLine(l -> l.startsWith("READY "), Duration.ofSeconds(60)).substring(6));
  }


  record Write(int offset, int length, byte fill) {}

  @ParameterizedTest(name = "{0}", autoCloseArguments = false)
  @MethodSource("io.bucketdisk.store.testing.S3Server#all")
  void everyByteAcknowledgedBeforeAFlushSurvivesSigkill(S3Server server) throws Exception {
    String storeUrl = server.storeUrl("kill-" + System.nanoTime() + "/").toString();
    Random rnd = new Random(20261121);
    byte[] flushed = new byte[SIZE];
    List<Write> after = new ArrayList<>();
    for (int iteration = 0; iteration < KILLS; iteration++) {
      int port = startGateway(storeUrl, iteration);
      int kind = iteration % 5;
      if (kind == 3) {
        // kill during the replay of what the previous gateway logged: the volume opens with the NBD handshake
        try (RawClient c = new RawClient(new InetSocketAddress("127.0.0.1", port))) {
          Thread.ofVirtual().start(() -> {
            try {
              c.open(GatewayMain.VOLUME, false);
            } catch (Exception ignored) {
              // the process dies under it
            }
          });
          Thread.sleep(rnd.nextInt(150));
          gateway.kill();
        }
        gateway = null;
        continue;
      }
      try (RawClient c = new RawClient(new InetSocketAddress("127.0.0.1", port)).open(GatewayMain.VOLUME, false)) {
        byte[] actual = readAll(c);
        assertDurable(actual, flushed, after, iteration);
        flushed = actual;
        after.clear();
        long cookie = 1;
        int writes = 1 + rnd.nextInt(40);
        for (int i = 0; i < writes; i++) {
          Write w = randomWrite(rnd);
          write(c, cookie++, w);
          assertThat(c.simple().error()).isZero();
          Arrays.fill(flushed, w.offset(), w.offset() + w.length(), w.fill());
        }
        c.request(0, CMD_FLUSH, cookie++, 0, 0);
        assertThat(c.simple().error()).as("flush").isZero();
        for (int i = 0; kind == 4 && i < SYNC_FLUSHES; i++) { // one small segment each: merges start
          Write w = new Write(rnd.nextInt(SIZE / 4096) * 4096, 4096, (byte) (1 + rnd.nextInt(255)));
          write(c, cookie++, w);
          assertThat(c.simple().error()).isZero();
          c.request(0, CMD_FLUSH, cookie++, 0, 0);
          assertThat(c.simple().error()).as("sync flush").isZero();
          Arrays.fill(flushed, w.offset(), w.offset() + w.length(), w.fill());
        }
        int more = kind == 2 ? 0 : rnd.nextInt(30);
        for (int i = 0; i < more; i++) {
          Write w = randomWrite(rnd);
          after.add(w);
          write(c, cookie++, w); // pipelined, replies not awaited
        }
        switch (kind) {
          case 0 -> Thread.sleep(rnd.nextInt(400));
          case 1 -> {
            c.request(0, CMD_FLUSH, cookie++, 0, 0); // not awaited: the kill lands while its segment uploads
            Thread.sleep(rnd.nextInt(60));
          }
          case 4 -> Thread.sleep(rnd.nextInt(300)); // merges run in the background
          default -> Thread.sleep(150 + rnd.nextInt(250)); // the flushed chunks fold after 200 ms
        }
        gateway.kill();
      } catch (java.io.IOException expectedAfterKill) {
        // the connection dies with the process
      }
      gateway.kill();
      gateway = null;
    }
    int port = startGateway(storeUrl, KILLS);
    try (RawClient c = new RawClient(new InetSocketAddress("127.0.0.1", port)).open(GatewayMain.VOLUME, false)) {
      assertDurable(readAll(c), flushed, after, KILLS);
    }
  }

  static Write randomWrite(Random rnd) {
    int len = 1 + rnd.nextInt(rnd.nextBoolean() ? 4096 : 300_000);
    int off = rnd.nextInt(SIZE - len);
    return new Write(off, len, (byte) (1 + rnd.nextInt(255)));
  }

  static void write(RawClient c, long cookie, Write w) throws Exception {
    byte[] data = new byte[w.length()];
    Arrays.fill(data, w.fill());
    c.request(0, CMD_WRITE, cookie, w.offset(), w.length(), ByteBuffer.wrap(data));
  }

  static byte[] readAll(RawClient c) throws Exception {
    byte[] out = new byte[SIZE];
    int step = 4 << 20;
    for (int off = 0; off < SIZE; off += step) {
      c.request(0, CMD_READ, 1000 + off, off, step);
      assertThat(c.simple().error()).isZero();
      c.read(step).get(out, off, step);
    }
    return out;
  }

  static void assertDurable(byte[] actual, byte[] flushed, List<Write> after, int iteration) {
    for (int i = 0; i < SIZE; i++) {
      if (actual[i] == flushed[i]) {
        continue;
      }
      boolean allowed = false;
      for (Write w : after) {
        if (i >= w.offset() && i < w.offset() + w.length() && actual[i] == w.fill()) {
          allowed = true;
          break;
        }
      }
      if (!allowed) {
        throw new AssertionError("after kill " + iteration + ": byte " + i + " is " + actual[i]
            + " but was flushed as " + flushed[i] + " and no later write wrote that value");
      }
    }
    assertNotTorn(actual, flushed, after, iteration);
  }

  /** Within one chunk, the bytes of a write that no other later write touched are all new or all old. */
  static void assertNotTorn(byte[] actual, byte[] flushed, List<Write> after, int iteration) {
    boolean[] shared = new boolean[SIZE];
    int[] owner = new int[SIZE];
    Arrays.fill(owner, -1);
    for (int k = 0; k < after.size(); k++) {
      Write w = after.get(k);
      for (int i = w.offset(); i < w.offset() + w.length(); i++) {
        if (owner[i] >= 0) {
          shared[i] = true;
        }
        owner[i] = k;
      }
    }
    for (int k = 0; k < after.size(); k++) {
      Write w = after.get(k);
      int end = w.offset() + w.length();
      for (int from = w.offset(); from < end; from = (from / GatewayMain.CHUNK + 1) * GatewayMain.CHUNK) {
        int to = Math.min(end, (from / GatewayMain.CHUNK + 1) * GatewayMain.CHUNK);
        int fresh = 0;
        int old = 0;
        for (int i = from; i < to; i++) {
          if (shared[i] || flushed[i] == w.fill()) {
            continue;
          }
          if (actual[i] == w.fill()) {
            fresh++;
          } else {
            old++;
          }
        }
        if (fresh > 0 && old > 0) {
          throw new AssertionError("after kill " + iteration + ": write of " + w.length() + " bytes at " + w.offset()
              + " is torn in [" + from + ", " + to + "): " + fresh + " bytes new, " + old + " old");
        }
      }
    }
  }
}
