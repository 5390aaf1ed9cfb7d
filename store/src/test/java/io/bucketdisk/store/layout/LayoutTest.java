package io.bucketdisk.store.layout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class LayoutTest {

  @Test
  void chunkKeysParseBackAndSortByIndexThenEpoch() {
    String prefix = Layout.chunksPrefix("vol-1");
    assertThat(Layout.chunkKey("vol-1", 0x1234, 7)).isEqualTo(prefix + "0000000000001234@00000007");
    List<String> keys = new ArrayList<>();
    long[][] pairs = {{300, 2}, {2, 10}, {2, 9}, {17, 1}, {0xffff_ffffL + 5, 0xffff_ffffL}};
    for (long[] p : pairs) {
      String k = Layout.chunkKey("vol-1", p[0], p[1]);
      assertThat(Layout.chunkIndex(k, prefix.length())).isEqualTo(p[0]);
      assertThat(Layout.chunkEpoch(k, prefix.length())).isEqualTo(p[1]);
      keys.add(k);
    }
    keys.sort(String::compareTo);
    assertThat(keys).extracting(k -> Layout.chunkIndex(k, prefix.length()))
        .containsExactly(2L, 2L, 17L, 300L, 0xffff_ffffL + 5);
    assertThat(Layout.chunkEpoch(keys.get(0), prefix.length())).isEqualTo(9);
    assertThat(Layout.chunkIndex(prefix + "garbage", prefix.length())).isEqualTo(-1);
    assertThat(Layout.chunkIndex(prefix + "000000000000zzzz@00000001", prefix.length())).isEqualTo(-1);
  }

  @Test
  void idsAreCheckedWithAOneLineReason() {
    assertThat(Layout.checkId("volume", "pvc-1234.a_b")).isEqualTo("pvc-1234.a_b");
    for (String bad : new String[] {"", "-x", "a/b", "..", "a b", "x".repeat(254)}) {
      assertThatThrownBy(() -> Layout.checkId("volume", bad)).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("[A-Za-z0-9._-]").hasMessageNotContaining("\n");
    }
  }
}
