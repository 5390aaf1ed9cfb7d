package io.bucketdisk.nbd.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Byte-exact handshake layouts ("Option haggling", NBD_OPT_INFO/GO, *_META_CONTEXT, option replies). */
@Timeout(10)
class OptionCodecTest {
  static final HexFormat HEX = HexFormat.of();

  static String hex(ByteBuffer b) {
    var d = b.duplicate();
    byte[] out = new byte[d.remaining()];
    d.get(out);
    return HEX.formatHex(out);
  }

  @Test
  void greeting() {
    var b = ByteBuffer.allocate(18);
    OptionCodec.greeting(b, 3);
    assertThat(HEX.formatHex(b.array())).isEqualTo("4e42444d41474943" + "49484156454f5054" + "0003");
  }

  @Test
  void optionHeader() throws Exception {
    var h = OptionCodec.decodeHeader(ByteBuffer.wrap(HEX.parseHex("49484156454f5054" + "00000007" + "fffffffe")));
    assertThat(h).isEqualTo(new OptionCodec.OptionHeader(NbdConstants.OPT_GO, 0xfffffffeL));
    assertThatThrownBy(() -> OptionCodec.decodeHeader(ByteBuffer.wrap(new byte[16])))
        .isInstanceOf(ProtocolException.class);
  }

  @Test
  void optionReplyHeader() {
    var b = ByteBuffer.allocate(20);
    OptionCodec.replyHeader(b, NbdConstants.OPT_LIST, NbdConstants.REP_ERR_UNSUP, 4);
    assertThat(HEX.formatHex(b.array())).isEqualTo("0003e889045565a9" + "00000003" + "80000001" + "00000004");
  }

  @Test
  void exportRequestRoundTripAndLayout() throws Exception {
    var data = OptionCodec.encodeExportRequest("demo", 1, 3);
    assertThat(hex(data)).isEqualTo("00000004" + "64656d6f" + "0002" + "0001" + "0003");
    assertThat(OptionCodec.decodeExportRequest(data))
        .isEqualTo(new OptionCodec.ExportRequest("demo", List.of(1, 3)));
  }

  @Test
  void malformedExportRequests() {
    for (String bad : new String[] {"", "000000", "00000010" + "41", "00000001" + "41" + "00",
        "00000001" + "41" + "0001", "00000001" + "41" + "0000" + "00", "00000001" + "00" + "0000",
        "00000002" + "c328" + "0000"}) {
      assertThatThrownBy(() -> OptionCodec.decodeExportRequest(ByteBuffer.wrap(HEX.parseHex(bad))))
          .as(bad).isInstanceOf(OptionFormatException.class);
    }
  }

  @Test
  void metaContextRequest() throws Exception {
    var data = OptionCodec.encodeMetaContextRequest("d", List.of("base:allocation", "x:"));
    assertThat(hex(data)).isEqualTo("00000001" + "64" + "00000002" + "0000000f"
        + HEX.formatHex("base:allocation".getBytes()) + "00000002" + "783a");
    assertThat(OptionCodec.decodeMetaContextRequest(data))
        .isEqualTo(new OptionCodec.MetaContextRequest("d", List.of("base:allocation", "x:")));
    // A query count far above what the bytes can hold is refused before anything is allocated.
    assertThatThrownBy(() -> OptionCodec.decodeMetaContextRequest(
            ByteBuffer.wrap(HEX.parseHex("00000000" + "7fffffff"))))
        .isInstanceOf(OptionFormatException.class);
    assertThatThrownBy(() -> OptionCodec.decodeMetaContextRequest(
            ByteBuffer.wrap(HEX.parseHex("00000000" + "00000000" + "00"))))
        .isInstanceOf(OptionFormatException.class);
  }

  @Test
  void replyPayloads() {
    assertThat(hex(OptionCodec.server("ab", "c"))).isEqualTo("00000002" + "6162" + "63");
    assertThat(hex(OptionCodec.infoExport(1L << 30, 0x0ded))).isEqualTo("0000" + "0000000040000000" + "0ded");
    assertThat(hex(OptionCodec.infoBlockSize(1, 4096, 1 << 25)))
        .isEqualTo("0003" + "00000001" + "00001000" + "02000000");
    assertThat(hex(OptionCodec.infoText(NbdConstants.INFO_NAME, "x"))).isEqualTo("0001" + "78");
    assertThat(hex(OptionCodec.metaContext(5, "a:b"))).isEqualTo("00000005" + "613a62");
    assertThat(OptionCodec.message("x".repeat(5000))).hasSize(4096);
    assertThat(Arrays.equals(OptionCodec.message("é"), "é".getBytes(java.nio.charset.StandardCharsets.UTF_8)))
        .isTrue();
  }
}
