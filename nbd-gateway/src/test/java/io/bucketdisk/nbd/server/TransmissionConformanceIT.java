package io.bucketdisk.nbd.server;

import static io.bucketdisk.nbd.wire.NbdConstants.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.RawClient;
import io.bucketdisk.nbd.TestServer;
import io.bucketdisk.nbd.export.Capabilities;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ForwardingExport;
import io.bucketdisk.nbd.export.ForwardingExportProvider;
import io.bucketdisk.nbd.export.MemoryExport;
import io.bucketdisk.nbd.export.NbdError;
import io.bucketdisk.nbd.wire.RequestDecoder;
import io.bucketdisk.nbd.wire.RequestHeader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Raw-wire probe of every command and flag in simple, structured and extended modes, and of every row of the
 * NBD spec's "Malformed or invalid requests" table (reference §3.11).
 */
@Timeout(60)
class TransmissionConformanceIT {
  static TestServer server;
  static final int EINVAL = NbdError.EINVAL.value();

  @BeforeAll
  static void start() throws Exception {
    server = new TestServer();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  @AfterEach
  void noBufferLeaks() throws Exception {
    for (int i = 0; i < 100 && server.listener.leasedBuffers() != 0; i++) {
      Thread.sleep(10);
    }
    assertThat(server.listener.leasedBuffers()).as("pooled buffers leaked").isZero();
  }

  static ByteBuffer pattern(int length, int seed) {
    var b = ByteBuffer.allocate(length);
    for (int i = 0; i < length; i++) {
      b.put((byte) (i * 31 + seed));
    }
    return b.flip();
  }

  @Test
  void simpleWriteReadFlushTrimZeroCache() throws Exception {
    try (var c = server.client().open("demo", false)) {
      var data = pattern(8192, 1);
      c.request(CMD_FLAG_FUA, CMD_WRITE, 1, 4096, 8192, data.duplicate());
      assertThat(c.simple()).isEqualTo(new RawClient.Simple(0, 1));
      durable(4096, 8192).ifPresent(stored -> assertThat(stored).as("the FUA write in the store at its reply")
          .isEqualTo(data));
      c.request(0, CMD_READ, 2, 4096, 8192);
      assertThat(c.simple()).isEqualTo(new RawClient.Simple(0, 2));
      assertThat(c.read(8192)).isEqualTo(data);
      c.request(0, CMD_FLUSH, 3, 0, 0);
      assertThat(c.simple().error()).isZero();
      c.request(CMD_FLAG_FUA, CMD_TRIM, 4, 0, 1 << 20);
      assertThat(c.simple().error()).isZero();
      c.request(0, CMD_CACHE, 5, 0, 1 << 20);
      assertThat(c.simple().error()).isZero();
      c.request(0, CMD_WRITE, 6, 100, 4, ByteBuffer.wrap(new byte[] {1, 2, 3, 4}));
      assertThat(c.simple().error()).isZero();
      c.request(CMD_FLAG_NO_HOLE | CMD_FLAG_FUA, CMD_WRITE_ZEROES, 7, 101, 2);
      assertThat(c.simple().error()).isZero();
      c.request(CMD_FLAG_FAST_ZERO, CMD_WRITE_ZEROES, 8, 1 << 20, 1 << 20);
      assertThat(c.simple().error()).isZero();
      c.request(0, CMD_READ, 9, 100, 4);
      c.simple();
      assertThat(c.read(4).array()).containsExactly(1, 0, 0, 4);
      c.request(0, CMD_DISC, 10, 0, 0);
      assertThat(c.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void structuredReadIsOneOffsetDataChunk() throws Exception {
    try (var c = server.client().open("demo", true)) {
      var data = pattern(4096, 2);
      c.request(0, CMD_WRITE, 1, 8192, 4096, data.duplicate());
      assertThat(c.simple().error()).as("non-READ success may stay simple").isZero();
      c.request(CMD_FLAG_DF, CMD_READ, 2, 8192, 4096);
      var chunk = c.chunk();
      assertThat(chunk.type()).isEqualTo(REPLY_TYPE_OFFSET_DATA);
      assertThat(chunk.done()).isTrue();
      assertThat(chunk.cookie()).isEqualTo(2);
      assertThat(chunk.payload().getLong()).isEqualTo(8192);
      assertThat(chunk.payload()).isEqualTo(data);
    }
  }

  @Test
  void structuredErrorsAreErrorChunks() throws Exception {
    try (var c = server.client().open("demo", true)) {
      c.request(0, CMD_READ, 3, 64L << 20, 512);
      var chunk = c.chunk();
      assertThat(chunk.type()).isEqualTo(REPLY_TYPE_ERROR);
      assertThat(chunk.done()).isTrue();
      assertThat(chunk.error()).isEqualTo(EINVAL);
      int msgLen = chunk.payload().getShort(4);
      assertThat(chunk.payload().remaining()).isEqualTo(6 + msgLen);
    }
  }

  /**
   * The (length, flags) pairs of context {@code id} (1 allocation, 2 dirty, 3 depth) for [48 MiB - 64 KiB, 48 MiB +
   * 128 KiB) after a 64 KiB write at 48 MiB. The memory export answers at byte granularity.
   */
  int[] extentsAroundTheWrite(int id) {
    return switch (id) {
      case 1 -> new int[] {65536, 3, 65536, 0, 65536, 3};
      case 2, 3 -> new int[] {65536, 0, 65536, 1, 65536, 0};
      default -> throw new AssertionError("context id " + id);
    };
  }

  /**
   * The bytes at [offset, offset + length) of {@code demo} that would survive the server's death now, read from the
   * store while the export is open; empty for the memory export, which has no store (its run checks the dirty
   * context instead).
   */
  Optional<ByteBuffer> durable(long offset, int length) throws IOException {
    return Optional.empty();
  }

  /** The one extent REQ_ONE gives at 48 MiB + 4 KiB. */
  int reqOneLength() {
    return 65536 - 4096;
  }

  @Test
  void blockStatusInEveryContextAndReqOne() throws Exception {
    try (var c =
        server.client()
            .open("demo", true, Capabilities.BASE_ALLOCATION, MemoryExport.DIRTY_CONTEXT,
                MemoryExport.ALLOCATION_DEPTH_CONTEXT)) {
      c.request(0, CMD_WRITE, 1, 48L << 20, 65536, pattern(65536, 3));
      assertThat(c.simple().error()).isZero();
      long base = 48L << 20;
      c.request(0, CMD_BLOCK_STATUS, 2, base - 65536, 3 * 65536);
      for (int ctx = 1; ctx <= 3; ctx++) {
        var chunk = c.chunk();
        assertThat(chunk.type()).isEqualTo(REPLY_TYPE_BLOCK_STATUS);
        assertThat(chunk.done()).isEqualTo(ctx == 3);
        var p = chunk.payload();
        int id = p.getInt();
        int[] extents = new int[(p.remaining()) / 4];
        for (int i = 0; i < extents.length; i++) {
          extents[i] = p.getInt();
        }
        assertThat(extents).as("context %d", id).containsExactly(extentsAroundTheWrite(id));
      }
      c.request(CMD_FLAG_REQ_ONE, CMD_BLOCK_STATUS, 3, base + 4096, 1 << 20);
      for (int ctx = 1; ctx <= 3; ctx++) {
        var p = c.chunk().payload();
        p.getInt();
        assertThat(p.remaining()).as("REQ_ONE gives one extent").isEqualTo(8);
        assertThat(p.getInt()).isLessThanOrEqualTo(1 << 20).isEqualTo(reqOneLength());
      }
      c.request(0, CMD_FLUSH, 4, 0, 0);
      c.simple();
      c.request(0, CMD_BLOCK_STATUS, 5, base, 65536);
      for (int ctx = 1; ctx <= 3; ctx++) {
        var p = c.chunk().payload();
        if (p.getInt() == 2) {
          assertThat(p.getInt(8)).as("dirty cleared by FLUSH").isZero();
        }
      }
    }
  }

  @Test
  void extendedHeadersCarryOffsetsAnd64BitLengths() throws Exception {
    try (var c = server.client().openExtended("demo", Capabilities.BASE_ALLOCATION)) {
      var data = pattern(4096, 4);
      c.request(CMD_FLAG_PAYLOAD_LEN, CMD_WRITE, 1, 12288, 4096, data.duplicate());
      var ok = c.chunk();
      assertThat(ok.magic()).isEqualTo(EXTENDED_REPLY_MAGIC);
      assertThat(ok.type()).isEqualTo(REPLY_TYPE_NONE);
      assertThat(ok.offset()).isEqualTo(12288);
      c.request(0, CMD_READ, 2, 12288, 4096);
      var read = c.chunk();
      assertThat(read.type()).isEqualTo(REPLY_TYPE_OFFSET_DATA);
      assertThat(read.offset()).isEqualTo(12288);
      assertThat(read.payload().getLong()).isEqualTo(12288);
      assertThat(read.payload()).isEqualTo(data);
      // 64-bit effect length on a payload-less command: the whole 64 MiB export.
      c.request(0, CMD_BLOCK_STATUS, 3, 0, 64L << 20);
      var bs = c.chunk();
      assertThat(bs.type()).isEqualTo(REPLY_TYPE_BLOCK_STATUS_EXT);
      var p = bs.payload();
      assertThat(p.getInt()).isEqualTo(1);
      int count = p.getInt();
      assertThat(p.remaining()).isEqualTo(16 * count);
      long total = 0;
      for (int i = 0; i < count; i++) {
        total += p.getLong();
        p.getLong();
      }
      assertThat(total).isEqualTo(64L << 20);
      c.request(0, CMD_WRITE, 4, 0, 4, ByteBuffer.allocate(4));
      assertThat(c.chunk().error()).as("extended WRITE without PAYLOAD_LEN").isEqualTo(EINVAL);
      c.request(CMD_FLAG_PAYLOAD_LEN, CMD_FLUSH, 5, 0, 8, ByteBuffer.allocate(8));
      assertThat(c.chunk().error()).as("unexpected payload is consumed, then EINVAL").isEqualTo(EINVAL);
      c.request(0, CMD_TRIM, 6, 0, 64L << 20);
      assertThat(c.chunk().type()).isEqualTo(REPLY_TYPE_NONE);
    }
  }

  @Test
  void repliesComeOutOfOrderWith128InFlight() throws Exception {
    var slow = new SlowProvider(TestServer.defaultProvider(64L << 20), 0);
    try (var s = new TestServer(slow, ServerOptions.defaults());
        var c = s.client().open("demo", false)) {
      // Cookie 0 reads the slow offset; 127 fast reads follow it in the pipe.
      for (int i = 0; i < 128; i++) {
        c.request(0, CMD_READ, i, i * 4096L, 4096);
      }
      long[] order = new long[128];
      for (int i = 0; i < 128; i++) {
        if (i == 127) {
          slow.release(); // the 127 fast replies came while cookie 0 was still running
        }
        var r = c.simple();
        assertThat(r.error()).isZero();
        c.read(4096);
        order[i] = r.cookie();
      }
      assertThat(order[127]).as("the slow request finishes last").isEqualTo(0);
      long[] sorted = order.clone();
      Arrays.sort(sorted);
      for (int i = 0; i < 128; i++) {
        assertThat(sorted[i]).isEqualTo(i);
      }
      assertThat(slow.maxConcurrent()).as("requests ran in parallel").isGreaterThan(1);
    }
  }

  @Test
  @Timeout(20)
  void aSlowRequestServedByItsReaderDoesNotHoldUpLaterOnes() throws Exception {
    var slow = new SlowProvider(TestServer.defaultProvider(64L << 20), 1L << 20);
    try (var s = new TestServer(slow, ServerOptions.defaults());
        var c = s.client().open("demo", false)) {
      // Queue depth 1 first: each lone request is served by the thread that read it, and the connection's
      // second reader thread exists and waits for its turn.
      for (int i = 0; i < 8; i++) {
        c.request(0, CMD_READ, i, i * 4096L, 4096);
        assertThat(c.simple()).isEqualTo(new RawClient.Simple(0, i));
        c.read(4096);
      }
      // A lone slow read, served by its reader; then fast reads one at a time, then pipelined.
      c.request(0, CMD_READ, 100, 1L << 20, 4096);
      for (int i = 0; i < 500 && slow.running() == 0; i++) {
        Thread.sleep(2);
      }
      assertThat(slow.running()).as("the slow read started").isEqualTo(1);
      for (int i = 0; i < 4; i++) {
        c.request(0, CMD_READ, 200 + i, i * 4096L, 4096);
        assertThat(c.simple()).as("answered while the slow read runs").isEqualTo(new RawClient.Simple(0, 200 + i));
        c.read(4096);
      }
      for (int i = 0; i < 32; i++) {
        c.request(0, CMD_READ, 300 + i, i * 4096L, 4096);
      }
      for (int i = 0; i < 32; i++) {
        var r = c.simple();
        assertThat(r.error()).isZero();
        assertThat(r.cookie()).as("pipelined reads answered before the slow one").isBetween(300L, 331L);
        c.read(4096);
      }
      slow.release();
      assertThat(c.simple()).isEqualTo(new RawClient.Simple(0, 100));
      c.read(4096);
    }
  }

  @Test
  @Timeout(20)
  void aRequestThatFailsWithAnErrorClosesTheConnectionInsteadOfLeavingItUnanswered() throws Exception {
    var slow = new SlowProvider(TestServer.defaultProvider(64L << 20), 1L << 20);
    var failing = new ForwardingExportProvider(slow) {
      @Override
      public Optional<Export> open(String name) throws IOException {
        return delegate().open(name).map(e -> new ForwardingExport(e) {
          @Override
          public void read(long offset, ByteBuffer dst, int flags) throws IOException {
            if (offset == 2L << 20) {
              throw new StackOverflowError("test: a read that fails with an Error");
            }
            super.read(offset, dst, flags);
          }
        });
      }
    };
    try (var s = new TestServer(failing, ServerOptions.defaults());
        var c = s.client().open("demo", false)) {
      // The slow read keeps one member of the crew busy, so the failing read, read by the other, runs on a
      // thread of its own: nothing answers it, and only closing the connection tells the client.
      c.request(0, CMD_READ, 1, 1L << 20, 4096);
      for (int i = 0; i < 500 && slow.running() == 0; i++) {
        Thread.sleep(2);
      }
      assertThat(slow.running()).as("the slow read started").isEqualTo(1);
      long bugs = NbdConnection.bugs();
      c.request(0, CMD_READ, 2, 2L << 20, 4096);
      assertThat(c.closedWithin(5_000)).as("the connection closed").isTrue();
      assertThat(NbdConnection.bugs()).as("counted as a bug").isEqualTo(bugs + 1);
    } finally {
      slow.release();
    }
  }

  @Test
  @Timeout(20)
  void pipelinedReadsAndADiscSentInOneWriteAreAllAnsweredBeforeTheClose() throws Exception {
    try (var c = server.client().open("demo", false)) {
      c.request(0, CMD_WRITE, 1, 0, 65536, pattern(65536, 4));
      assertThat(c.simple().error()).isZero();
      // The memory export answers these on the reading thread, and gathers their replies: the DISC behind them
      // must send what is gathered before it waits for the requests in flight (their slots are held until then).
      int reads = 40;
      var wire = ByteBuffer.allocate((reads + 1) * 28);
      for (int i = 0; i < reads; i++) {
        RequestDecoder.encode(wire, new RequestHeader(0, CMD_READ, 100 + i, (i % 16) * 4096L, 4096, false));
      }
      RequestDecoder.encode(wire, new RequestHeader(0, CMD_DISC, 999, 0, 0, false));
      c.write(wire.flip());
      boolean[] seen = new boolean[reads];
      var expected = pattern(65536, 4);
      for (int i = 0; i < reads; i++) {
        var r = c.simple();
        assertThat(r.error()).isZero();
        int k = (int) (r.cookie() - 100);
        assertThat(seen[k]).as("one reply per cookie").isFalse();
        seen[k] = true;
        assertThat(c.read(4096)).isEqualTo(expected.slice((k % 16) * 4096, 4096));
      }
      assertThat(c.closedWithin(5000)).isTrue();
    }
  }

  @Test
  void flushOnOneConnectionCoversWritesCompletedOnAnother() throws Exception {
    try (var a = server.client().open("demo", false);
        var b = server.client().open("demo", true, MemoryExport.DIRTY_CONTEXT)) {
      a.request(0, CMD_WRITE, 1, 40L << 20, 65536, pattern(65536, 9));
      assertThat(a.simple().error()).isZero();
      b.request(0, CMD_BLOCK_STATUS, 2, 40L << 20, 65536);
      var before = b.chunk().payload();
      assertThat(before.getInt(8)).as("dirty before the flush").isEqualTo(MemoryExport.DIRTY);
      b.request(0, CMD_FLUSH, 3, 0, 0);
      assertThat(b.status(0)).isZero();
      durable(40L << 20, 65536).ifPresent(stored -> assertThat(stored)
          .as("the other connection's write in the store when the FLUSH replied").isEqualTo(pattern(65536, 9)));
      b.request(0, CMD_BLOCK_STATUS, 4, 40L << 20, 65536);
      assertThat(b.chunk().payload().getInt(8)).as("clean after a FLUSH on the other connection").isZero();
      b.request(0, CMD_READ, 5, 40L << 20, 65536);
      var data = b.chunk().payload();
      data.getLong();
      assertThat(data).isEqualTo(pattern(65536, 9));
    }
  }

  @Test
  void largestPayloadRoundTrips() throws Exception {
    try (var c = server.client().open("demo", false)) {
      var data = pattern(MAX_PAYLOAD, 5);
      c.request(0, CMD_WRITE, 1, 0, MAX_PAYLOAD, data.duplicate());
      assertThat(c.simple().error()).isZero();
      c.request(0, CMD_READ, 2, 0, MAX_PAYLOAD);
      assertThat(c.simple().error()).isZero();
      assertThat(c.read(MAX_PAYLOAD)).isEqualTo(data);
    }
  }

  @Test
  void lameDuckShutdown() throws Exception {
    var provider = TestServer.defaultProvider(1 << 20);
    // Virtual-thread readers here, so both reader kinds are covered by the suite.
    var options = ServerOptions.defaults().withShutdownGrace(java.time.Duration.ofSeconds(2)).withPlatformReaders(false);
    var s = new TestServer(provider, options);
    try (var c = s.client().open("demo", true);
        var kernelLike = s.client().open("demo", false);
        var h = s.client().start()) {
      c.request(0, CMD_WRITE, 1, 0, 4096, pattern(4096, 6));
      assertThat(c.simple().error()).isZero();
      Thread stopper = Thread.ofVirtual().start(s.listener::stop);
      for (int i = 0; i < 200 && !s.listener.stopping(); i++) {
        Thread.sleep(5);
      }
      h.option(OPT_LIST);
      assertThat(h.optionReply().type()).isEqualTo(REP_ERR_SHUTDOWN);
      c.request(0, CMD_READ, 2, 0, 4096);
      var refused = c.chunk();
      assertThat(refused.type()).isEqualTo(REPLY_TYPE_ERROR);
      assertThat(refused.error()).isEqualTo(NbdError.ESHUTDOWN.value());
      c.request(0, CMD_DISC, 3, 0, 0);
      assertThat(c.closedWithin(2000)).isTrue();
      // simple replies: no error that the kernel would turn into EIO; the request is left for a reconnect
      kernelLike.request(0, CMD_READ, 4, 0, 4096);
      assertThat(kernelLike.closedWithin(2000)).isTrue();
      stopper.join(10_000);
      assertThat(stopper.isAlive()).isFalse();
      assertThat(s.listener.connectionCount()).isZero();
      assertThat(provider.export("demo").orElseThrow().allocatedPages()).isEqualTo(1);
    } finally {
      s.close();
    }
  }
}
