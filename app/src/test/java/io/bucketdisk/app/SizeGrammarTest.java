package io.bucketdisk.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.common.size.ByteSize;
import io.bucketdisk.controller.VolumeParameters;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every place a user writes a size takes the same grammar and refuses the same way: the gateway's and dev's
 * {@code --cache-size}, {@code volume create --size}, and the StorageClass's {@code chunkSize} (the inline volume's
 * {@code size} is checked in node-plugin's EphemeralAttributesTest).
 */
class SizeGrammarTest {

  @ParameterizedTest
  @ValueSource(strings = {"1GB", "ten", "1 Gi", "-4Mi"})
  void oneRefusalEverywhere(String text) {
    String refusal = ByteSize.error(text);
    assertThatThrownBy(() -> StoreWiring.cacheConfig(text)).hasMessage("--cache-size: " + refusal);
    assertThatThrownBy(() -> VolumeCommand.parseSize(text)).hasMessage("--size: " + refusal);
    assertThatThrownBy(() -> VolumeParameters.parse(Map.of(VolumeParameters.CHUNK_SIZE, text), null))
        .hasMessageContaining(refusal);
  }

  @ParameterizedTest
  @ValueSource(strings = {"1Gi", "1073741824", "1.0Gi", "1024Mi"})
  void oneGrammarEverywhere(String text) {
    assertThat(StoreWiring.cacheConfig(text).cacheBytes()).isEqualTo(1L << 30);
    assertThat(VolumeCommand.parseSize(text)).isEqualTo(1L << 30);
  }
}
