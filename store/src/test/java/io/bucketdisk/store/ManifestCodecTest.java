package io.bucketdisk.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.store.layout.VolumeManifest;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Manifests read back as written, and a manifest written before a field existed reads with its default. */
class ManifestCodecTest {
  @Test
  void aManifestWithoutAWriterGenerationReadsAsGenerationZero() throws Exception {
    String json = """
        {"format":1,"id":"v","sizeBytes":1048576,"chunkSize":65536,"epoch":3,"parent":null,"lease":null,
         "state":"READY","parameters":{},"snapshots":{},"publications":{},"createdAtMillis":42}
        """;
    VolumeManifest m = Codec.manifest("manifests/v", json.getBytes(StandardCharsets.UTF_8));
    assertThat(m.writerGeneration()).isZero();
    assertThat(m.epoch()).isEqualTo(3);
    assertThat(m.withNextWriter().writerGeneration()).isOne();
  }

  @Test
  void theWriterGenerationRoundTrips() throws Exception {
    VolumeManifest m = new VolumeManifest(VolumeManifest.FORMAT, "v", 1 << 20, 1 << 16, 1, null, null,
        VolumeManifest.State.READY, Map.of(), Map.of(), Map.of(), 42, 9);
    java.nio.ByteBuffer encoded = Codec.encode(m);
    byte[] json = new byte[encoded.remaining()];
    encoded.get(json);
    assertThat(Codec.manifest("manifests/v", json).writerGeneration()).isEqualTo(9);
  }
}
