package io.bucketdisk.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class VolumeIdsTest {

  @Test
  void plainNamesAreKept() {
    assertThat(VolumeIds.forName("pvc-6f1c2e8a-0b5d-4c1e-9f4a-2b3c4d5e6f70"))
        .isEqualTo("pvc-6f1c2e8a-0b5d-4c1e-9f4a-2b3c4d5e6f70");
    assertThat(VolumeIds.forName("data")).isEqualTo("data");
  }

  @Test
  void otherNamesAreSanitizedAndHashedDeterministically() {
    String long128 = "x".repeat(128);
    String id = VolumeIds.forName(long128);
    assertThat(id).matches("[a-z0-9.-]{1,63}").isEqualTo(VolumeIds.forName(long128));
    assertThat(VolumeIds.forName("Sanity Volume/1")).startsWith("sanity-volume-1-").hasSize("sanity-volume-1".length() + 1 + 16);
    assertThat(VolumeIds.forName("A")).isNotEqualTo(VolumeIds.forName("a"));
    assertThat(VolumeIds.forName("---")).startsWith("vol-");
    assertThat(VolumeIds.forName("ünïcödé")).matches("[a-z0-9-]+");
  }
}
