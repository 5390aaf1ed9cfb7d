package io.bucketdisk.nbd.export;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.engine.EngineException;
import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.engine.cache.ChunkCache;
import io.bucketdisk.engine.cache.MemoryChunkStore;
import io.bucketdisk.engine.volume.MemoryVolumeSource;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The NBD adapter over an engine volume: flags, contexts and capabilities translated, the handle's lifecycle. */
class VolumeExportTest {
  static final int CHUNK = 64 * 1024;
  final MemoryVolumeSource source = new MemoryVolumeSource();
  final VolumeExportProvider provider = new VolumeExportProvider(source, new ChunkCache(new CacheConfig(16L * CHUNK,
      6L * CHUNK, CHUNK, 2, 2, 2, Duration.ofSeconds(60), Duration.ofSeconds(5), Duration.ofSeconds(5))), "vol");

  @AfterEach
  void close() throws Exception {
    provider.close();
  }

  static List<long[]> extents(Export e, String context, long length) throws Exception {
    List<long[]> out = new ArrayList<>();
    e.blockStatus(context, 0, length, 0, (l, f) -> out.add(new long[] {l, f}));
    return out;
  }

  @Test
  void flagsAndContextsReachTheEngineAndTwoHandlesShareOneVolume() throws Exception {
    MemoryChunkStore store = source.add("vol", 4L * CHUNK, CHUNK);
    Export a = provider.open("vol").orElseThrow();
    Export b = provider.open("vol").orElseThrow();
    assertThat(((VolumeExport) a).volume()).isSameAs(((VolumeExport) b).volume());
    assertThat(a.capabilities().canMultiConn()).isTrue();
    a.write(CHUNK, ByteBuffer.wrap(new byte[] {1}), Export.FUA);
    assertThat(store.durableChunks()).as("FUA: stored before the reply").contains(1L);
    b.write(0, ByteBuffer.wrap(new byte[] {2}), 0);
    // neither chunk has an object: one byte of data in each (chunk 1's in the log), the rest holes, finer than a chunk
    int hole = Capabilities.HOLE | Capabilities.ZERO;
    assertThat(extents(a, Capabilities.BASE_ALLOCATION, 4L * CHUNK)).containsExactly(new long[] {1, 0},
        new long[] {CHUNK - 1, hole}, new long[] {1, 0}, new long[] {3L * CHUNK - 1, hole});
    assertThat(extents(a, VolumeExport.DIRTY_CONTEXT, 4L * CHUNK)).containsExactly(
        new long[] {1, VolumeExport.DIRTY}, new long[] {4L * CHUNK - 1, 0});
    assertThat(extents(a, VolumeExport.DEPTH_CONTEXT, 4L * CHUNK)).containsExactly(new long[] {1, 1},
        new long[] {CHUNK - 1, 0}, new long[] {1, 1}, new long[] {3L * CHUNK - 1, 0});
    assertThatThrownBy(() -> extents(a, "qemu:dirty-bitmap:x", CHUNK)).isInstanceOf(ExportException.class)
        .satisfies(e -> assertThat(((ExportException) e).error()).isEqualTo(NbdError.EINVAL));
    b.flush(0);
    assertThat(store.durableChunks()).contains(0L);
    a.close();
    assertThatThrownBy(() -> a.read(0, ByteBuffer.allocate(1), 0))
        .satisfies(e -> assertThat(((ExportException) e).error()).isEqualTo(NbdError.ESHUTDOWN));
    b.read(0, ByteBuffer.allocate(1), 0);
    b.close();
    assertThat(provider.volumes().openVolumes()).as("closed after the last handle").isEmpty();
  }

  @Test
  void aReadOnlyVolumeIsAReadOnlyExport() throws Exception {
    source.stores.put("vol@snap", new MemoryChunkStore("vol@snap", CHUNK, CHUNK, true));
    Export e = provider.open("vol@snap").orElseThrow();
    assertThat(e.capabilities().readOnly()).isTrue();
    assertThat(e.capabilities().canTrim()).isFalse();
    assertThatThrownBy(() -> e.write(0, ByteBuffer.allocate(1), 0)).isInstanceOf(EngineException.class)
        .satisfies(x -> assertThat(((EngineException) x).kind()).isEqualTo(EngineException.Kind.READ_ONLY));
    assertThat(provider.list()).extracting(ExportProvider.Listing::description)
        .containsExactly("bucketdisk volume, 65536 bytes, read-only snapshot");
    e.close();
  }
}
