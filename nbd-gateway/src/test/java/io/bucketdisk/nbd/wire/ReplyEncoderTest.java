package io.bucketdisk.nbd.wire;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Byte-exact reply layouts: simple (16), structured chunk (20), extended chunk (32), error and block status. */
@Timeout(10)
class ReplyEncoderTest {
  static final HexFormat HEX = HexFormat.of();

  static String hex(ByteBuffer b) {
    return HEX.formatHex(Arrays.copyOf(b.array(), b.position()));
  }

  @Test
  void simpleReply() {
    var b = ByteBuffer.allocate(16);
    ReplyEncoder.simple(b, 22, 0x1122334455667788L);
    assertThat(hex(b)).isEqualTo("67446698" + "00000016" + "1122334455667788");
  }

  @Test
  void structuredChunkHeader() {
    var b = ByteBuffer.allocate(20);
    ReplyEncoder.chunk(b, false, NbdConstants.REPLY_FLAG_DONE, NbdConstants.REPLY_TYPE_OFFSET_DATA, 7, 4096, 520);
    assertThat(hex(b)).isEqualTo("668e33ef" + "0001" + "0001" + "0000000000000007" + "00000208");
  }

  @Test
  void extendedChunkHeaderEchoesTheOffset() {
    var b = ByteBuffer.allocate(32);
    ReplyEncoder.chunk(b, true, NbdConstants.REPLY_FLAG_DONE, NbdConstants.REPLY_TYPE_NONE, 9, 8192, 0);
    assertThat(hex(b))
        .isEqualTo("6e8a278c" + "0001" + "0000" + "0000000000000009" + "0000000000002000" + "0000000000000000");
  }

  @Test
  void errorPayload() {
    var b = ByteBuffer.allocate(ReplyEncoder.errorPayloadLength(2));
    ReplyEncoder.errorPayload(b, 5, new byte[] {'h', 'i'});
    assertThat(hex(b)).isEqualTo("00000005" + "0002" + "6869");
  }

  @Test
  void blockStatusPayloads() {
    long[] lengths = {4096, 1L << 33};
    int[] flags = {3, 0};
    var compact = ByteBuffer.allocate(ReplyEncoder.blockStatusPayloadLength(false, 1));
    ReplyEncoder.blockStatusPayload(compact, false, 1, lengths, flags, 1);
    assertThat(hex(compact)).isEqualTo("00000001" + "00001000" + "00000003");
    var ext = ByteBuffer.allocate(ReplyEncoder.blockStatusPayloadLength(true, 2));
    ReplyEncoder.blockStatusPayload(ext, true, 2, lengths, flags, 2);
    assertThat(hex(ext)).isEqualTo("00000002" + "00000002" + "0000000000001000" + "0000000000000003"
        + "0000000200000000" + "0000000000000000");
  }
}
