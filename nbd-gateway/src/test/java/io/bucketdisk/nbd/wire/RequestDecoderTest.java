package io.bucketdisk.nbd.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Byte-exact request layouts ("Request message", compact 28 bytes and extended 32 bytes). */
@Timeout(10)
class RequestDecoderTest {
  static final HexFormat HEX = HexFormat.of();

  @Test
  void compactRequestLayout() throws Exception {
    byte[] wire = HEX.parseHex("25609513" + "0001" + "0001" + "0102030405060708" + "0000000000001000" + "00000200");
    var h = RequestDecoder.decode(ByteBuffer.wrap(wire), false);
    assertThat(h).isEqualTo(new RequestHeader(NbdConstants.CMD_FLAG_FUA, NbdConstants.CMD_WRITE,
        0x0102030405060708L, 4096, 512, false));
    assertThat(h.hasPayload()).isTrue();
    var out = ByteBuffer.allocate(28);
    RequestDecoder.encode(out, h);
    assertThat(out.array()).isEqualTo(wire);
  }

  @Test
  void compactLengthIsUnsigned() throws Exception {
    byte[] wire = HEX.parseHex("25609513" + "0000" + "0000" + "0000000000000001" + "ffffffffffffffff" + "ffffffff");
    var h = RequestDecoder.decode(ByteBuffer.wrap(wire), false);
    assertThat(h.length()).isEqualTo(0xffffffffL);
    assertThat(h.offset()).isEqualTo(-1L);
  }

  @Test
  void extendedRequestLayout() throws Exception {
    byte[] wire = HEX.parseHex(
        "21e41c71" + "0020" + "0001" + "00000000000000ff" + "0000000000002000" + "0000000100000000");
    var h = RequestDecoder.decode(ByteBuffer.wrap(wire), true);
    assertThat(h).isEqualTo(new RequestHeader(NbdConstants.CMD_FLAG_PAYLOAD_LEN, NbdConstants.CMD_WRITE, 255,
        8192, 1L << 32, true));
    var out = ByteBuffer.allocate(32);
    RequestDecoder.encode(out, h);
    assertThat(out.array()).isEqualTo(wire);
  }

  @Test
  void payloadOnlyForWriteOrPayloadLen() {
    assertThat(new RequestHeader(0, NbdConstants.CMD_READ, 1, 0, 512, false).hasPayload()).isFalse();
    assertThat(new RequestHeader(NbdConstants.CMD_FLAG_PAYLOAD_LEN, NbdConstants.CMD_BLOCK_STATUS, 1, 0, 8, true)
        .hasPayload()).isTrue();
    assertThat(new RequestHeader(NbdConstants.CMD_FLAG_PAYLOAD_LEN, NbdConstants.CMD_BLOCK_STATUS, 1, 0, 8, false)
        .hasPayload()).isFalse();
  }

  @Test
  void wrongMagicForTheModeLosesFraming() {
    byte[] extended = HEX.parseHex("21e41c71" + "00".repeat(28));
    assertThatThrownBy(() -> RequestDecoder.decode(ByteBuffer.wrap(extended), false))
        .isInstanceOf(ProtocolException.class).hasMessageContaining("21e41c71");
    byte[] compact = HEX.parseHex("25609513" + "00".repeat(28));
    assertThatThrownBy(() -> RequestDecoder.decode(ByteBuffer.wrap(compact), true))
        .isInstanceOf(ProtocolException.class);
  }
}
