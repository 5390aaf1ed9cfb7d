package io.bucketdisk.node.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Drives the handshake against a scripted server: bytes in are fixed, bytes out are checked. */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class NbdClientHandshakeTest {

  /** A channel that serves {@code serverBytes} to reads and records writes. */
  static final class Scripted implements ByteChannel {
    final ByteBuffer in;
    final ByteBuffer out = ByteBuffer.allocate(4096);

    Scripted(ByteBuffer serverBytes) {
      in = serverBytes;
    }

    @Override
    public int read(ByteBuffer dst) {
      if (!in.hasRemaining()) {
        return -1;
      }
      int n = Math.min(dst.remaining(), in.remaining());
      dst.put(in.slice(in.position(), n));
      in.position(in.position() + n);
      return n;
    }

    @Override
    public int write(ByteBuffer src) {
      int n = src.remaining();
      out.put(src);
      return n;
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void close() {}
  }

  private static ByteBuffer greeting(ByteBuffer b, int flags) {
    return b.putLong(NbdClientHandshake.NBDMAGIC).putLong(NbdClientHandshake.IHAVEOPT).putShort((short) flags);
  }

  private static ByteBuffer reply(ByteBuffer b, int type, byte[] data) {
    return b.putLong(NbdClientHandshake.REPLY_MAGIC).putInt(NbdClientHandshake.OPT_GO).putInt(type).putInt(data.length)
        .put(data);
  }

  @Test
  void goCollectsExportAndBlockSizeInfo() throws IOException {
    var s = ByteBuffer.allocate(512);
    greeting(s, 3);
    reply(s, NbdClientHandshake.REP_INFO, ByteBuffer.allocate(12).putShort((short) 0).putLong(1L << 30)
        .putShort((short) 0x1ed).array());
    reply(s, NbdClientHandshake.REP_INFO, ByteBuffer.allocate(14).putShort((short) 3).putInt(512).putInt(4096)
        .putInt(32 << 20).array());
    reply(s, 4 /* unknown non-error reply type: ignored */, new byte[3]);
    reply(s, NbdClientHandshake.REP_ACK, new byte[0]);
    var ch = new Scripted(s.flip());

    var info = NbdClientHandshake.negotiate(ch, "vol-1");

    assertThat(info).isEqualTo(new NegotiatedExport(1L << 30, 0x1ed, 512, 4096, 32 << 20));
    assertThat(info.canMultiConn()).isTrue();
    assertThat(info.kernelBlockSize()).isEqualTo(4096);
    var sent = ch.out.flip();
    assertThat(sent.getInt()).isEqualTo(3); // C_FIXED_NEWSTYLE | C_NO_ZEROES
    assertThat(sent.getLong()).isEqualTo(NbdClientHandshake.IHAVEOPT);
    assertThat(sent.getInt()).isEqualTo(NbdClientHandshake.OPT_GO);
    assertThat(sent.getInt()).isEqualTo(4 + 5 + 2 + 2);
    assertThat(sent.getInt()).isEqualTo(5);
    byte[] name = new byte[5];
    sent.get(name);
    assertThat(new String(name, StandardCharsets.UTF_8)).isEqualTo("vol-1");
    assertThat(sent.getShort()).isEqualTo((short) 1);
    assertThat(sent.getShort()).isEqualTo((short) NbdClientHandshake.INFO_BLOCK_SIZE);
    assertThat(sent.hasRemaining()).isFalse();
  }

  @Test
  void unknownExportIsReportedAsMissing() {
    var s = ByteBuffer.allocate(256);
    greeting(s, 1);
    reply(s, NbdClientHandshake.REP_ERR_UNKNOWN, "no such volume".getBytes(StandardCharsets.UTF_8));
    var ch = new Scripted(s.flip());
    assertThatThrownBy(() -> NbdClientHandshake.negotiate(ch, "nope"))
        .isInstanceOfSatisfying(NbdHandshakeException.class, e -> assertThat(e.exportMissing()).isTrue())
        .hasMessageContaining("ERR_UNKNOWN").hasMessageContaining("no such volume");
    assertThat(ch.out.getInt(0)).isEqualTo(1); // no NO_ZEROES when the server did not offer it
  }

  @Test
  void unsupportedGoFallsBackToExportName() throws IOException {
    var s = ByteBuffer.allocate(256);
    greeting(s, 3);
    reply(s, NbdClientHandshake.REP_ERR_UNSUP, new byte[0]);
    s.putLong(4096).putShort((short) 0x3);
    var info = NbdClientHandshake.negotiate(new Scripted(s.flip()), "x");
    assertThat(info.sizeBytes()).isEqualTo(4096);
    assertThat(info.readOnly()).isTrue();
  }

  @Test
  void refusesOldstyleAndNonFixedNewstyleAndEarlyClose() {
    var old = ByteBuffer.allocate(32).putLong(NbdClientHandshake.NBDMAGIC).putLong(0x00420281861253L).putShort((short) 0);
    assertThatThrownBy(() -> NbdClientHandshake.negotiate(new Scripted(old.flip()), "x")).hasMessageContaining("oldstyle");
    var plain = greeting(ByteBuffer.allocate(32), 0);
    assertThatThrownBy(() -> NbdClientHandshake.negotiate(new Scripted(plain.flip()), "x")).hasMessageContaining("fixed newstyle");
    var cut = greeting(ByteBuffer.allocate(32), 1);
    assertThatThrownBy(() -> NbdClientHandshake.negotiate(new Scripted(cut.flip()), "x")).hasMessageContaining("closed");
  }

}
