package io.bucketdisk.node.netlink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class NbdMessagesTest {
  private static final HexFormat HEX = HexFormat.of();

  private static byte[] hex(String s) {
    return HEX.parseHex(s.replace(" ", ""));
  }

  @Test
  void getFamilyIsByteExactAgainstTheKernelCapture() {
    // Request echoed in the kernel's ENOENT reply captured in reference java-stack.md §5.
    assertThat(NbdMessages.getFamily(1, "nbd"))
        .isEqualTo(hex("1c000000 1000 0500 01000000 00000000 03 01 0000 0800 0200 6e626400"));
  }

  @Test
  void errorReplyFromTheKernelDecodesToEnoent() {
    byte[] raw = hex("30000000 0200 0000 01000000 39300000 feffffff"
        + "1c000000 1000 0500 01000000 00000000 03 01 0000 0800 0200 6e626400");
    var msgs = NetlinkReader.parse(ByteBuffer.wrap(raw));
    assertThat(msgs).hasSize(1);
    assertThat(msgs.getFirst().error()).isEqualTo(-2);
    assertThat(msgs.getFirst().isAck()).isFalse();
    assertThat(msgs.getFirst().seq()).isEqualTo(1);
  }

  @Test
  void extendedAckMessageIsRead() {
    // NLMSG_ERROR -22, flags CAPPED|ACK_TLVS, echoed header only, then NLMSGERR_ATTR_MSG "bad".
    byte[] raw = hex("2c000000 0200 0003 07000000 00000000 eaffffff"
        + "1c000000 1000 0500 07000000 00000000 0800 0100 62616400");
    var m = NetlinkReader.parse(ByteBuffer.wrap(raw)).getFirst();
    assertThat(m.error()).isEqualTo(-22);
    assertThat(m.extAckMessage()).isEqualTo("bad");
  }

  @Test
  void connectIsByteExact() {
    var cfg = new DeviceConfig(1L << 30, 4096, 0x1ed, 0, 120, "vol-1", List.of(5, 6));
    byte[] msg = NbdMessages.connect(0x22, 9, cfg);
    String expected = ""
        + "78000000 2200 0500 09000000 00000000" // nlmsghdr: len 144, type = family, REQUEST|ACK, seq 9
        + "01 01 0000" // genlmsghdr: NBD_CMD_CONNECT, version 1
        + "0c00 0200 0000004000000000" // SIZE_BYTES u64 = 1 GiB
        + "0c00 0300 0010000000000000" // BLOCK_SIZE_BYTES = 4096
        + "0c00 0500 ed01000000000000" // SERVER_FLAGS
        + "0c00 0400 0000000000000000" // TIMEOUT 0
        + "0c00 0800 7800000000000000" // DEAD_CONN_TIMEOUT 120
        + "0a00 0a00 766f6c2d3100 0000" // BACKEND_IDENTIFIER "vol-1\0" padded
        + "1c00 0780" // SOCKETS, nested
        + "0c00 0180 0800 0100 05000000" // SOCK_ITEM { SOCK_FD 5 }
        + "0c00 0180 0800 0100 06000000"; // SOCK_ITEM { SOCK_FD 6 }
    assertThat(HEX.formatHex(msg)).isEqualTo(HEX.formatHex(hex(expected)));
  }

  @Test
  void connectOmitsIndexSoTheKernelChooses() {
    var cfg = new DeviceConfig(4096, 512, 0x1, 0, 0, "v", List.of(3));
    var parsed = reparseRequest(NbdMessages.connect(0x22, 1, cfg));
    assertThat(parsed.has(Netlink.NBD_ATTR_INDEX)).isFalse();
  }

  @Test
  void reconfigureCarriesIndexBackendSizeAndSockets() {
    byte[] msg = NbdMessages.reconfigure(0x22, 3, 2, "vol-1", OptionalLong.of(8192), List.of(7));
    String expected = ""
        + "44000000 2200 0500 03000000 00000000"
        + "03 01 0000"
        + "0800 0100 02000000" // INDEX 2
        + "0a00 0a00 766f6c2d3100 0000"
        + "0c00 0200 0020000000000000" // SIZE_BYTES 8192
        + "1000 0780 0c00 0180 0800 0100 07000000";
    assertThat(HEX.formatHex(msg)).isEqualTo(HEX.formatHex(hex(expected)));
    var noSockets = reparseRequest(NbdMessages.reconfigure(0x22, 3, 2, "v", OptionalLong.empty(), List.of()));
    assertThat(noSockets.has(Netlink.NBD_ATTR_SOCKETS)).isFalse();
    assertThat(noSockets.has(Netlink.NBD_ATTR_SIZE_BYTES)).isFalse();
  }

  @Test
  void disconnectAndStatus() {
    assertThat(NbdMessages.disconnect(0x22, 4, 1))
        .isEqualTo(hex("1c000000 2200 0500 04000000 00000000 02 01 0000 0800 0100 01000000"));
    assertThat(NbdMessages.status(0x22, 5, OptionalInt.empty()))
        .isEqualTo(hex("14000000 2200 0500 05000000 00000000 05 01 0000"));
  }

  @Test
  void familyReplyGivesIdAndMulticastGroup() {
    var w = new NetlinkWriter(0x10, 0, 1, Netlink.CTRL_CMD_NEWFAMILY, 2)
        .string(Netlink.CTRL_ATTR_FAMILY_NAME, "nbd")
        .u16(Netlink.CTRL_ATTR_FAMILY_ID, 0x23)
        .u32(Netlink.CTRL_ATTR_VERSION, 1)
        .beginNested(Netlink.CTRL_ATTR_MCAST_GROUPS)
        .beginNested(1).u32(Netlink.CTRL_ATTR_MCAST_GRP_ID, 11).string(Netlink.CTRL_ATTR_MCAST_GRP_NAME, "other").endNested()
        .beginNested(2).u32(Netlink.CTRL_ATTR_MCAST_GRP_ID, 12).string(Netlink.CTRL_ATTR_MCAST_GRP_NAME, "nbd_mc_group").endNested()
        .endNested();
    byte[] reply = w.finish();
    byte[] ack = hex("24000000 0200 0001 01000000 00000000 00000000 14000000 1000 0500 01000000 00000000");
    var both = ByteBuffer.allocate(reply.length + ack.length).put(reply).put(ack).flip();
    var msgs = NetlinkReader.parse(both);
    assertThat(msgs).hasSize(2);
    assertThat(msgs.get(1).isAck()).isTrue();
    var f = NbdMessages.family(msgs.getFirst(), "nbd_mc_group");
    assertThat(f.id()).isEqualTo(0x23);
    assertThat(f.version()).isEqualTo(1);
    assertThat(f.multicastGroup()).hasValue(12);
  }

  @Test
  void familyReplyCapturedFromDebian61Kernel() {
    byte[] raw = hex("b400000010000000010000009200000001020000080002006e626400060001002000000008000300010000000800040000"
        + "000000080005000a00000054000600140001000800010001000000080002000a0000001400020008000100020000000800"
        + "02000a000000140003000800010003000000080002000a000000140004000800010005000000080002000a000000240007"
        + "00200001000800020009000000110001006e62645f6d635f67726f757000000000");
    var f = NbdMessages.family(NetlinkReader.parse(ByteBuffer.wrap(raw)).getFirst(), "nbd_mc_group");
    assertThat(f.id()).isEqualTo(0x20);
    assertThat(f.version()).isEqualTo(1);
    assertThat(f.multicastGroup()).hasValue(9);
  }

  @Test
  void connectReplyStatusReplyAndLinkDead() {
    var connect = NetlinkReader.parse(ByteBuffer.wrap(
        new NetlinkWriter(0x22, 0, 9, Netlink.NBD_CMD_CONNECT, 1).u32(Netlink.NBD_ATTR_INDEX, 3).finish())).getFirst();
    assertThat(NbdMessages.connectedIndex(connect)).isEqualTo(3);

    var status = NetlinkReader.parse(ByteBuffer.wrap(new NetlinkWriter(0x22, 0, 5, Netlink.NBD_CMD_STATUS, 1)
        .beginNested(Netlink.NBD_ATTR_DEVICE_LIST)
        .beginNested(Netlink.NBD_DEVICE_ITEM).u32(Netlink.NBD_DEVICE_INDEX, 0).u8(Netlink.NBD_DEVICE_CONNECTED, 1).endNested()
        .beginNested(Netlink.NBD_DEVICE_ITEM).u32(Netlink.NBD_DEVICE_INDEX, 1).u8(Netlink.NBD_DEVICE_CONNECTED, 0).endNested()
        .endNested().finish())).getFirst();
    assertThat(NbdMessages.devices(status)).containsExactly(new DeviceStatus(0, true), new DeviceStatus(1, false));

    var dead = NetlinkReader.parse(ByteBuffer.wrap(
        new NetlinkWriter(0x22, 0, 0, Netlink.NBD_CMD_LINK_DEAD, 1).u32(Netlink.NBD_ATTR_INDEX, 7).finish())).getFirst();
    assertThat(NbdMessages.linkDead(dead)).hasValue(7);
    assertThat(NbdMessages.linkDead(connect)).isEmpty();
  }

  @Test
  void malformedLengthsAreRejected() {
    byte[] raw = hex("ff000000 2200 0000 01000000 00000000 01 01 0000");
    assertThatThrownBy(() -> NetlinkReader.parse(ByteBuffer.wrap(raw))).isInstanceOf(IllegalArgumentException.class);
    byte[] attr = hex("18000000 2200 0000 01000000 00000000 01 01 0000 ff00 0100 00000000");
    assertThatThrownBy(() -> NetlinkReader.parse(ByteBuffer.wrap(attr))).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void configRejectsMultipleSocketsWithoutMultiConnAndBadBlockSizes() {
    assertThatThrownBy(() -> new DeviceConfig(4096, 4096, 0x1, 0, 0, "v", List.of(1, 2)))
        .hasMessageContaining("CAN_MULTI_CONN");
    assertThatThrownBy(() -> new DeviceConfig(4096, 1000, 0x1, 0, 0, "v", List.of(1)))
        .hasMessageContaining("power of two");
  }

  private static NetlinkReader.Attributes reparseRequest(byte[] msg) {
    var b = ByteBuffer.wrap(msg).order(ByteOrder.nativeOrder());
    return NetlinkReader.Attributes.parse(b.slice(20, msg.length - 20));
  }
}
