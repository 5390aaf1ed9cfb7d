package io.bucketdisk.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class CapacityTest {

  private static final long GIB = 1L << 30;

  @ParameterizedTest(name = "required={0} limit={1} minimum={2} -> {3}")
  @CsvSource({
      "0, 0, 0, 1073741824",             // nothing asked: the default
      "10737418240, 0, 0, 10737418240",  // aligned floor kept exactly
      "10737418240, 10737418240, 0, 10737418240", // exact size reported exactly
      "1, 0, 0, 4096",                   // rounded up to the granularity
      "5000, 8192, 0, 8192",             // rounded up within the limit
      "0, 10000, 0, 8192",               // only a limit below the default: largest aligned size under it
      "0, 4294967296, 0, 1073741824",    // only a limit above the default: the default
      "0, 0, 2147483648, 2147483648",    // clone without range: the source's size
      "1024, 0, 2147483648, 2147483648", // clone: never smaller than the source
  })
  void createSizes(long required, long limit, long minimum, long expected) {
    assertThat(Capacity.forCreate(required, limit, minimum)).isEqualTo(expected);
  }

  @Test
  void outOfRangeWhenNoAlignedSizeFits() {
    assertThatThrownBy(() -> Capacity.forCreate(5000, 6000, 0)).isInstanceOfSatisfying(VolumeError.class,
        e -> assertThat(e.reason()).isEqualTo(VolumeError.Reason.OUT_OF_RANGE));
    assertThatThrownBy(() -> Capacity.forCreate(0, 100, 0)).isInstanceOfSatisfying(VolumeError.class,
        e -> assertThat(e.reason()).isEqualTo(VolumeError.Reason.OUT_OF_RANGE));
    assertThatThrownBy(() -> Capacity.forCreate(Capacity.MAX_SIZE + 4096, 0, 0))
        .isInstanceOfSatisfying(VolumeError.class,
            e -> assertThat(e.reason()).isEqualTo(VolumeError.Reason.OUT_OF_RANGE));
    assertThatThrownBy(() -> Capacity.forCreate(GIB, GIB, 2 * GIB)).isInstanceOfSatisfying(VolumeError.class,
        e -> assertThat(e.getMessage()).contains("smaller than the source"));
  }

  @Test
  void invalidRanges() {
    for (long[] r : new long[][] {{-1, 0}, {0, -1}, {10, 5}}) {
      assertThatThrownBy(() -> Capacity.forCreate(r[0], r[1], 0)).isInstanceOfSatisfying(VolumeError.class,
          e -> assertThat(e.reason()).isEqualTo(VolumeError.Reason.INVALID));
    }
    assertThatThrownBy(() -> Capacity.forExpand(0, 0)).isInstanceOf(VolumeError.class);
  }

  @Test
  void expandAndSatisfy() {
    assertThat(Capacity.forExpand(11 * GIB, 0)).isEqualTo(11 * GIB);
    assertThat(Capacity.forExpand(0, 12 * GIB)).isEqualTo(12 * GIB);
    assertThat(Capacity.satisfies(10 * GIB, 10 * GIB, 0)).isTrue();
    assertThat(Capacity.satisfies(10 * GIB, 5 * GIB, 10 * GIB)).isTrue();
    assertThat(Capacity.satisfies(10 * GIB, 20 * GIB, 20 * GIB)).isFalse();
    assertThat(Capacity.satisfies(10 * GIB, 0, 5 * GIB)).isFalse();
  }
}
