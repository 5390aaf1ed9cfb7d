package io.bucketdisk.common.size;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ByteSizeTest {

  @ParameterizedTest
  @CsvSource({
    "0, 0", "4096, 4096", "' 4096 ', 4096", "+4096, 4096",
    "1Ki, 1024", "512Mi, 536870912", "1Gi, 1073741824", "10Gi, 10737418240", "1Ti, 1099511627776",
    "1Pi, 1125899906842624", "7Ei, 8070450532247928832",
    "1k, 1000", "1M, 1000000", "1G, 1000000000", "2T, 2000000000000", "1P, 1000000000000000",
    "1E, 1000000000000000000",
    "1.5Gi, 1610612736", "0.5Ki, 512", ".5Ki, 512", "1.5, 2", "1500m, 2", "1m, 1", "1e3, 1000", "1E6, 1000000",
    "2.5e3, 2500", "1e-1, 1",
  })
  void parsesTheKubernetesQuantityGrammar(String text, long bytes) {
    assertThat(ByteSize.parse(text).bytes()).isEqualTo(bytes);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "ten", "1 Gi", "1gi", "1GB", "1GiB", "1Kb", "-1", "-1Gi", "1..5", "Gi", "0x10",
      "1e", "1e99999999999", "1Gi1", "1_000"})
  void refusesAnythingElseWithOneMessage(String text) {
    assertThatThrownBy(() -> ByteSize.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(ByteSize.error(text))
        .hasMessageEndingWith(ByteSize.GRAMMAR);
  }

  @ParameterizedTest
  @ValueSource(strings = {"8Ei", "9223372036854775808", "10E", "1e30"})
  void refusesMoreThanALongHolds(String text) {
    assertThatThrownBy(() -> ByteSize.parse(text)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("more bytes than a size can be");
  }

  @ParameterizedTest
  @CsvSource({"0, 0", "4097, 4097", "1024, 1Ki", "536870912, 512Mi", "1073741824, 1Gi", "1536, 1536",
      "1000000000, 1000000000"})
  void printsTheShortestExactBinaryForm(long bytes, String text) {
    assertThat(ByteSize.ofBytes(bytes).toString()).isEqualTo(text);
    assertThat(ByteSize.parse(text).bytes()).isEqualTo(bytes);
  }

  @org.junit.jupiter.api.Test
  void isNeverNegative() {
    assertThatThrownBy(() -> ByteSize.ofBytes(-1)).isInstanceOf(IllegalArgumentException.class);
  }
}
