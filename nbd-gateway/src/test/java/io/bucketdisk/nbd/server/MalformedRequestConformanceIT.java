package io.bucketdisk.nbd.server;

import static io.bucketdisk.nbd.wire.NbdConstants.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.RawClient;
import io.bucketdisk.nbd.TestServer;
import io.bucketdisk.nbd.export.NbdError;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every row of the NBD spec's "Malformed or invalid requests" table (reference §3.11), plus the rules around
 * it: the spec's error where framing is intact (and the connection keeps working), a disconnect where it is
 * lost, and no cost for hostile lengths.
 */
@Timeout(60)
class MalformedRequestConformanceIT {
  static TestServer server;
  static final int EINVAL = NbdError.EINVAL.value();
  static final int ENOSPC = NbdError.ENOSPC.value();
  static final int EPERM = NbdError.EPERM.value();
  static final long SIZE = 64L << 20;

  @BeforeAll
  static void start() throws Exception {
    server = new TestServer();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  /** Sends one request and returns its error, then proves the connection still works with a FLUSH. */
  static int errorOf(RawClient c, int flags, int type, long offset, long length, ByteBuffer payload)
      throws Exception {
    c.request(flags, type, 77, offset, length, payload);
    int error = c.status(type == CMD_READ ? length : 0);
    c.request(0, CMD_FLUSH, 78, 0, 0);
    assertThat(c.status(0)).as("connection still usable").isZero();
    return error;
  }

  static int errorOf(RawClient c, int flags, int type, long offset, long length) throws Exception {
    return errorOf(c, flags, type, offset, length, ByteBuffer.allocate(0));
  }

  @Test
  void unknownCommandIsEinval() throws Exception {
    try (var c = server.client().open("demo", false)) {
      assertThat(errorOf(c, 0, 42, 0, 512)).isEqualTo(EINVAL);
      assertThat(errorOf(c, 0, 8 /* RESIZE, not advertised */, 0, 0)).isEqualTo(EINVAL);
    }
  }

  @Test
  void unknownOrInapplicableFlagIsEinval() throws Exception {
    try (var c = server.client().open("demo", false)) {
      assertThat(errorOf(c, 1 << 9, CMD_READ, 0, 512)).isEqualTo(EINVAL);
      assertThat(errorOf(c, CMD_FLAG_DF, CMD_READ, 0, 512)).as("DF without structured replies").isEqualTo(EINVAL);
      assertThat(errorOf(c, CMD_FLAG_NO_HOLE, CMD_TRIM, 0, 512)).isEqualTo(EINVAL);
      assertThat(errorOf(c, CMD_FLAG_REQ_ONE, CMD_READ, 0, 512)).isEqualTo(EINVAL);
      assertThat(errorOf(c, CMD_FLAG_PAYLOAD_LEN, CMD_READ, 0, 512)).as("PAYLOAD_LEN without extended headers")
          .isEqualTo(EINVAL);
      assertThat(errorOf(c, 1 << 9, CMD_WRITE, 0, 512, ByteBuffer.allocate(512)))
          .as("payload of a refused WRITE is consumed").isEqualTo(EINVAL);
    }
  }

  @Test
  void readTrimBlockStatusPastTheEndAreEinval() throws Exception {
    try (var c = server.client().open("demo", true, "base:allocation")) {
      assertThat(errorOf(c, 0, CMD_READ, SIZE - 512, 1024)).isEqualTo(EINVAL);
      assertThat(errorOf(c, 0, CMD_READ, -4096, 512)).as("offset 2^64-4096").isEqualTo(EINVAL);
      assertThat(errorOf(c, 0, CMD_TRIM, SIZE, 512)).isEqualTo(EINVAL);
      assertThat(errorOf(c, 0, CMD_CACHE, SIZE, 512)).isEqualTo(EINVAL);
      assertThat(errorOf(c, 0, CMD_BLOCK_STATUS, SIZE + 512, 512)).isEqualTo(EINVAL);
    }
  }

  @Test
  void writeAndWriteZeroesPastTheEndAreEnospc() throws Exception {
    try (var c = server.client().open("demo", false)) {
      assertThat(errorOf(c, 0, CMD_WRITE, SIZE - 512, 1024, ByteBuffer.allocate(1024))).isEqualTo(ENOSPC);
      assertThat(errorOf(c, 0, CMD_WRITE_ZEROES, SIZE, 4096)).isEqualTo(ENOSPC);
      assertThat(errorOf(c, 0, CMD_WRITE, Long.MAX_VALUE, 16, ByteBuffer.allocate(16))).isEqualTo(ENOSPC);
    }
  }

  @Test
  void writesOnAReadOnlyExportAreEperm() throws Exception {
    try (var c = server.client().open("ro", false)) {
      assertThat(errorOf(c, 0, CMD_WRITE, 0, 512, ByteBuffer.allocate(512))).isEqualTo(EPERM);
      assertThat(errorOf(c, 0, CMD_TRIM, 0, 512)).isEqualTo(EPERM);
      assertThat(errorOf(c, 0, CMD_WRITE_ZEROES, 0, 512)).isEqualTo(EPERM);
      assertThat(errorOf(c, 0, CMD_READ, 0, 512)).isZero();
    }
  }

  @Test
  void misalignedRequestsAreEinval() throws Exception {
    try (var c = server.client().open("aligned", false)) {
      assertThat(errorOf(c, 0, CMD_READ, 512, 4096)).isEqualTo(EINVAL);
      assertThat(errorOf(c, 0, CMD_READ, 0, 512)).isEqualTo(EINVAL);
      assertThat(errorOf(c, 0, CMD_WRITE, 0, 1000, ByteBuffer.allocate(1000))).isEqualTo(EINVAL);
      assertThat(errorOf(c, 0, CMD_TRIM, 4096, 100)).isEqualTo(EINVAL);
      assertThat(errorOf(c, 0, CMD_READ, 4096, 4096)).isZero();
    }
  }

  @Test
  void readLargerThanMaxPayloadIsRefused() throws Exception {
    try (var c = server.client().open("demo", false)) {
      assertThat(errorOf(c, 0, CMD_READ, 0, MAX_PAYLOAD + 512)).isEqualTo(EINVAL);
    }
    try (var c = server.client().open("demo", true)) {
      assertThat(errorOf(c, 0, CMD_READ, 0, MAX_PAYLOAD + 512)).isEqualTo(NbdError.EOVERFLOW.value());
    }
  }

  @Test
  void writeLargerThanMaxPayloadIsConsumedAndRefused() throws Exception {
    try (var c = server.client().open("demo", false)) {
      int len = MAX_PAYLOAD + 512;
      assertThat(errorOf(c, 0, CMD_WRITE, 0, len, ByteBuffer.allocate(len))).isEqualTo(EINVAL);
    }
  }

  @Test
  void hostileFourGibWriteCostsNothingAndDisconnects() throws Exception {
    try (var c = server.client().openExtended("demo")) {
      long before = server.listener.leasedBuffers();
      c.request(CMD_FLAG_PAYLOAD_LEN, CMD_WRITE, 1, 0, 4L << 30);
      assertThat(c.closedWithin(2000)).isTrue();
      assertThat(server.listener.leasedBuffers()).isEqualTo(before);
    }
    try (var c = server.client().open("demo", false)) {
      // Compact header: 4 GiB - 1 announced. Refused before anything is allocated; the server drops us.
      c.request(0, CMD_WRITE, 1, 0, 0xffffffffL);
      assertThat(c.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void badMagicDisconnects() throws Exception {
    try (var c = server.client().open("demo", false)) {
      c.write(ByteBuffer.allocate(28).putInt(0, 0x12345678));
      assertThat(c.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void otherCases() throws Exception {
    try (var c = server.client().open("demo", false)) {
      assertThat(errorOf(c, 0, CMD_BLOCK_STATUS, 0, 512)).as("BLOCK_STATUS without context").isEqualTo(EINVAL);
      assertThat(errorOf(c, 0, CMD_FLUSH, 512, 0)).as("FLUSH with an offset").isEqualTo(EINVAL);
      assertThat(errorOf(c, 0, CMD_READ, 0, 0)).as("zero-length READ").isEqualTo(EINVAL);
      assertThat(errorOf(c, CMD_FLAG_FUA, CMD_FLUSH, 0, 0)).as("FUA accepted on every command").isZero();
      assertThat(errorOf(c, CMD_FLAG_FUA, CMD_READ, 0, 512)).isZero();
      assertThat(errorOf(c, CMD_FLAG_FUA, CMD_CACHE, 0, 512)).isZero();
    }
    try (var c = server.client().open("demo", true)) {
      assertThat(errorOf(c, 0, CMD_BLOCK_STATUS, 0, 512)).as("structured, nothing selected").isEqualTo(EINVAL);
      assertThat(errorOf(c, CMD_FLAG_DF, CMD_READ, 0, 512)).isZero();
    }
  }
}
