package io.bucketdisk.common.size;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A number of bytes as a user writes it: a Kubernetes quantity, the same grammar in a flag ({@code --cache-size
 * 512Mi}), a StorageClass parameter ({@code chunkSize: 4Mi}), an inline volume attribute ({@code size: 1Gi}) and a
 * CLI argument ({@code volume create --size 10Gi}).
 *
 * <p><b>Grammar</b> (Kubernetes {@code resource.Quantity}): a non-negative decimal number, then at most one suffix:
 * {@code Ki Mi Gi Ti Pi Ei} (powers of 1024), {@code k M G T P E} (powers of 1000) or {@code m} (1/1000), or an
 * exponent {@code e3}/{@code E3}. So {@code 1G} is 10^9 bytes and {@code 1Gi} is 2^30. A result that is not a whole
 * number of bytes is rounded up, as Kubernetes does for resources. Over 2^63-1 bytes is refused.
 *
 * <p>Immutable value; {@link #parse} throws {@link IllegalArgumentException} whose message is {@link #error}, so
 * every entry point says the same thing.
 */
public record ByteSize(long bytes) implements Comparable<ByteSize> {
  /** What a size may look like; the end of every refusal's message. */
  public static final String GRAMMAR =
      "use bytes or a number with a suffix: Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024) or k, M, G, T, P, E (powers of"
          + " 1000), e.g. 512Mi or 10Gi";

  private static final Pattern QUANTITY =
      Pattern.compile("\\+?([0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m|[eE][+-]?[0-9]+)?");
  private static final Map<String, BigDecimal> SUFFIXES = Map.ofEntries(
      Map.entry("", BigDecimal.ONE),
      Map.entry("Ki", BigDecimal.valueOf(1L << 10)), Map.entry("Mi", BigDecimal.valueOf(1L << 20)),
      Map.entry("Gi", BigDecimal.valueOf(1L << 30)), Map.entry("Ti", BigDecimal.valueOf(1L << 40)),
      Map.entry("Pi", BigDecimal.valueOf(1L << 50)), Map.entry("Ei", BigDecimal.valueOf(1L << 60)),
      Map.entry("m", new BigDecimal("0.001")), Map.entry("k", BigDecimal.TEN.pow(3)),
      Map.entry("M", BigDecimal.TEN.pow(6)), Map.entry("G", BigDecimal.TEN.pow(9)),
      Map.entry("T", BigDecimal.TEN.pow(12)), Map.entry("P", BigDecimal.TEN.pow(15)),
      Map.entry("E", BigDecimal.TEN.pow(18)));
  private static final BigDecimal MAX = BigDecimal.valueOf(Long.MAX_VALUE);
  private static final String[] BINARY = {"Ei", "Pi", "Ti", "Gi", "Mi", "Ki"};

  public ByteSize {
    if (bytes < 0) {
      throw new IllegalArgumentException("a size cannot be negative: " + bytes);
    }
  }

  /** {@code bytes} bytes. */
  public static ByteSize ofBytes(long bytes) {
    return new ByteSize(bytes);
  }

  /** Parses {@code text} (surrounding blanks ignored); throws with {@link #error} when it is not a size. */
  public static ByteSize parse(String text) {
    Matcher m = QUANTITY.matcher(text.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException(error(text));
    }
    String suffix = m.group(2) == null ? "" : m.group(2);
    BigDecimal value = new BigDecimal(m.group(1).startsWith(".") ? "0" + m.group(1) : m.group(1));
    if (suffix.length() > 1 && (suffix.charAt(0) == 'e' || suffix.charAt(0) == 'E') && suffix.charAt(1) != 'i') {
      int exponent;
      try {
        exponent = Integer.parseInt(suffix.substring(1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(error(text));
      }
      if (Math.abs(exponent) > 30) {
        throw new IllegalArgumentException(error(text));
      }
      value = value.scaleByPowerOfTen(exponent);
    } else {
      value = value.multiply(SUFFIXES.get(suffix));
    }
    value = value.setScale(0, RoundingMode.CEILING);
    if (value.compareTo(MAX) > 0) {
      throw new IllegalArgumentException("'" + text.strip() + "' is more bytes than a size can be (at most 8Ei - 1)");
    }
    return new ByteSize(value.longValueExact());
  }

  /** The refusal for {@code text}: it names the text and the {@link #GRAMMAR}. */
  public static String error(String text) {
    return "'" + text.strip() + "' is not a size; " + GRAMMAR;
  }

  /** The shortest exact binary form: {@code 512Mi}, {@code 10Gi}, or plain bytes ({@code 4097}). */
  @Override
  public String toString() {
    if (bytes == 0) {
      return "0";
    }
    for (int i = 0; i < BINARY.length; i++) {
      long unit = 1L << (10 * (BINARY.length - i));
      if (bytes % unit == 0) {
        return bytes / unit + BINARY[i];
      }
    }
    return Long.toString(bytes);
  }

  @Override
  public int compareTo(ByteSize other) {
    return Long.compare(bytes, other.bytes);
  }
}
