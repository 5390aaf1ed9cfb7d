package io.bucketdisk.nbd.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.wire.NbdConstants;
import io.bucketdisk.nbd.wire.OptionCodec;
import io.bucketdisk.nbd.wire.OptionFormatException;
import io.bucketdisk.nbd.wire.ProtocolException;
import io.bucketdisk.nbd.wire.RequestDecoder;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Seeded random input (plain noise and mutations of valid encodings) into the pure parsers: only the declared
 * exceptions may come out, and nothing may read past the bytes it was given. The seed is printed on failure.
 */
@Timeout(30)
class CodecFuzzTest {
  static final long SEED = Long.getLong("fuzz.seed", 20261121L);
  static final long BUDGET_NANOS = 3_000_000_000L;

  static byte[] mutate(Random rnd, byte[] valid) {
    byte[] b = valid.clone();
    int edits = 1 + rnd.nextInt(4);
    for (int i = 0; i < edits && b.length > 0; i++) {
      switch (rnd.nextInt(3)) {
        case 0 -> b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
        case 1 -> b = java.util.Arrays.copyOf(b, rnd.nextInt(b.length + 1));
        default -> {
          byte[] longer = java.util.Arrays.copyOf(b, b.length + rnd.nextInt(16));
          rnd.nextBytes(java.nio.ByteBuffer.wrap(longer, b.length, longer.length - b.length).array());
          b = longer;
        }
      }
    }
    return b;
  }

  @Test
  void optionDataParsersOnlyThrowFormatErrors() {
    var rnd = new Random(SEED);
    byte[] go = array(OptionCodec.encodeExportRequest("demo", 0, 1, 2, 3));
    byte[] meta = array(OptionCodec.encodeMetaContextRequest("demo", List.of("base:allocation", "bucketdisk:")));
    long end = System.nanoTime() + BUDGET_NANOS;
    int runs = 0;
    while (System.nanoTime() < end && runs < 2_000_000) {
      runs++;
      byte[] input = rnd.nextBoolean() ? mutate(rnd, rnd.nextBoolean() ? go : meta) : noise(rnd);
      try {
        var r = OptionCodec.decodeExportRequest(ByteBuffer.wrap(input));
        assertThat(r.name().length()).isLessThanOrEqualTo(NbdConstants.MAX_STRING);
      } catch (OptionFormatException expected) {
        // malformed: ERR_INVALID
      } catch (RuntimeException e) {
        throw new AssertionError("seed " + SEED + " run " + runs + ": GO parser threw on " + hex(input), e);
      }
      try {
        var r = OptionCodec.decodeMetaContextRequest(ByteBuffer.wrap(input));
        assertThat(r.queries().size()).isLessThanOrEqualTo(input.length / 4);
      } catch (OptionFormatException expected) {
        // malformed: ERR_INVALID
      } catch (RuntimeException e) {
        throw new AssertionError("seed " + SEED + " run " + runs + ": META parser threw on " + hex(input), e);
      }
    }
    assertThat(runs).isGreaterThan(1000);
  }

  @Test
  void headerDecodersOnlyThrowProtocolErrors() {
    var rnd = new Random(SEED + 1);
    long end = System.nanoTime() + BUDGET_NANOS / 2;
    int runs = 0;
    while (System.nanoTime() < end && runs < 2_000_000) {
      runs++;
      boolean extended = rnd.nextBoolean();
      var buf = ByteBuffer.allocate(extended ? 32 : 28);
      rnd.nextBytes(buf.array());
      if (rnd.nextInt(4) > 0) {
        buf.putInt(0, extended ? NbdConstants.EXTENDED_REQUEST_MAGIC : NbdConstants.REQUEST_MAGIC);
      }
      try {
        var h = RequestDecoder.decode(buf, extended);
        assertThat(buf.hasRemaining()).isFalse();
        assertThat(h.type()).isBetween(0, 0xffff);
        assertThat(h.flags()).isBetween(0, 0xffff);
      } catch (ProtocolException expected) {
        // bad magic: hard disconnect
      }
      var opt = ByteBuffer.allocate(16);
      rnd.nextBytes(opt.array());
      if (rnd.nextBoolean()) {
        opt.putLong(0, NbdConstants.IHAVEOPT);
      }
      try {
        assertThat(OptionCodec.decodeHeader(opt).length()).isBetween(0L, 0xffffffffL);
      } catch (ProtocolException expected) {
        // bad magic
      }
    }
    assertThat(runs).isGreaterThan(1000);
  }

  static byte[] noise(Random rnd) {
    byte[] b = new byte[rnd.nextInt(64)];
    rnd.nextBytes(b);
    return b;
  }

  static byte[] array(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.duplicate().get(out);
    return out;
  }

  static String hex(byte[] b) {
    return java.util.HexFormat.of().formatHex(b);
  }
}
