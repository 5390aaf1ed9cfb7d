package io.bucketdisk.nbd.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.engine.cache.ChunkCache;
import io.bucketdisk.engine.cache.MemoryChunkStore;
import io.bucketdisk.engine.volume.MemoryVolumeSource;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.proto.gateway.FlushVolumeRequest;
import io.bucketdisk.proto.gateway.GatewayControlGrpc;
import io.bucketdisk.proto.gateway.ListOpenVolumesRequest;
import io.bucketdisk.proto.gateway.RefreshVolumeRequest;
import io.bucketdisk.proto.gateway.SnapshotVolumeRequest;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The control API over its real Unix socket and over loopback TCP, against a provider on in-memory chunk stores. */
@Timeout(60)
class GatewayControlServerTest {
  static final int CHUNK = 64 * 1024;
  Path dir;
  MemoryVolumeSource source;
  VolumeExportProvider provider;
  GatewayControlServer server;
  ManagedChannel channel;
  GatewayControlGrpc.GatewayControlBlockingStub stub;

  @BeforeEach
  void start() throws Exception {
    dir = Files.createTempDirectory(Path.of("/tmp"), "bdctl");
    source = new MemoryVolumeSource();
    source.add("vol-a", 16L * CHUNK, CHUNK);
    source.add("vol-b", 16L * CHUNK, CHUNK);
    provider = new VolumeExportProvider(source, new ChunkCache(new CacheConfig(16L * CHUNK, 6L * CHUNK, CHUNK, 2, 2,
        2, Duration.ofSeconds(60), Duration.ofSeconds(10), Duration.ofSeconds(10))), null);
    server = GatewayControlServer.start(dir.resolve("control.sock"), provider.volumes());
    channel = Grpc.newChannelBuilder("unix://" + server.socket(), InsecureChannelCredentials.create()).build();
    stub = GatewayControlGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
    provider.close();
    assertThat(Files.exists(dir.resolve("control.sock"))).as("socket removed").isFalse();
    Files.deleteIfExists(dir);
  }

  @Test
  void flushSnapshotRefreshAndListAnOpenVolume() throws Exception {
    MemoryChunkStore a = source.stores.get("vol-a");
    try (Export e = provider.open("vol-a").orElseThrow(); Export e2 = provider.open("vol-a").orElseThrow()) {
      e.write(100, ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
      e2.write(5L * CHUNK, ByteBuffer.wrap(new byte[] {4}), 0);
      var list = stub.listOpenVolumes(ListOpenVolumesRequest.getDefaultInstance());
      assertThat(list.getVolumesList()).singleElement().satisfies(v -> {
        assertThat(v.getVolumeId()).isEqualTo("vol-a");
        assertThat(v.getConnections()).isEqualTo(2);
        // each chunk holds one 4 KiB page of dirty data and its page table (one int per page of the chunk)
        assertThat(v.getDirtyBytes()).isEqualTo(2L * (4096 + 16 + 4 * (CHUNK / 4096)));
        assertThat(v.getSizeBytes()).isEqualTo(16L * CHUNK);
      });
      assertThat(a.durableChunks()).isEmpty();
      assertThat(stub.flushVolume(FlushVolumeRequest.newBuilder().setVolumeId("vol-a").build()).getWasOpen()).isTrue();
      assertThat(a.durableChunks()).containsExactlyInAnyOrder(0L, 5L);
      e.write(CHUNK, ByteBuffer.wrap(new byte[] {9}), 0);
      assertThat(stub.snapshotVolume(SnapshotVolumeRequest.newBuilder().setVolumeId("vol-a").setSnapshotId("s1")
          .build()).getWasOpen()).isTrue();
      assertThat(a.chunks).as("snapshot flushed first").containsKey(1L);
      assertThat(a.snapshots).isEqualTo(1);
      var refreshed = stub.refreshVolume(RefreshVolumeRequest.newBuilder().setVolumeId("vol-a").build());
      assertThat(refreshed.getWasOpen()).isTrue();
      assertThat(refreshed.getSizeBytes()).isEqualTo(16L * CHUNK);
    }
    assertThat(stub.listOpenVolumes(ListOpenVolumesRequest.getDefaultInstance()).getVolumesList())
        .as("closed after the last handle").isEmpty();
  }

  @Test
  void volumesNotOpenHereAnswerWasOpenFalse() {
    assertThat(stub.flushVolume(FlushVolumeRequest.newBuilder().setVolumeId("vol-b").build()).getWasOpen()).isFalse();
    assertThat(stub.snapshotVolume(SnapshotVolumeRequest.newBuilder().setVolumeId("nope").setSnapshotId("s")
        .build()).getWasOpen()).isFalse();
    assertThat(stub.refreshVolume(RefreshVolumeRequest.newBuilder().setVolumeId("nope").build()).getWasOpen())
        .isFalse();
  }

  @Test
  void badRequestsAndStoreFailuresGetClearCodes() throws Exception {
    assertThatThrownBy(() -> stub.flushVolume(FlushVolumeRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    assertThatThrownBy(() -> stub.snapshotVolume(SnapshotVolumeRequest.newBuilder().setVolumeId("vol-a").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    MemoryChunkStore b = source.stores.get("vol-b");
    try (Export e = provider.open("vol-b").orElseThrow()) {
      b.failAll = true;
      e.write(0, ByteBuffer.wrap(new byte[] {1}), 0);
      assertThatThrownBy(() -> stub.flushVolume(FlushVolumeRequest.newBuilder().setVolumeId("vol-b").build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, x -> {
            assertThat(x.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
            assertThat(x.getStatus().getDescription()).contains("vol-b", "could not be stored");
          });
      b.failAll = false;
      assertThat(stub.flushVolume(FlushVolumeRequest.newBuilder().setVolumeId("vol-b").build()).getWasOpen())
          .isTrue();
      assertThat(b.durableChunks()).contains(0L);
    }
  }

  @Test
  void aSecondServerOnTheSameSocketIsRefused() {
    assertThatThrownBy(() -> GatewayControlServer.start(server.socket(), provider.volumes()))
        .hasMessageContaining("already listening").hasMessageContaining("--control");
  }

  @Test
  void flushOverTcpOnLoopback() throws Exception {
    MemoryChunkStore a = source.stores.get("vol-a");
    try (GatewayControlServer tcp = GatewayControlServer.start("tcp://127.0.0.1:0", provider.volumes());
        Export e = provider.open("vol-a").orElseThrow()) {
      assertThat(tcp.socket()).isNull();
      assertThat(tcp.address()).startsWith("tcp://127.0.0.1:").doesNotEndWith(":0");
      ManagedChannel ch = Grpc.newChannelBuilder(tcp.address().substring("tcp://".length()),
          InsecureChannelCredentials.create()).build();
      try {
        var overTcp = GatewayControlGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS);
        e.write(3L * CHUNK, ByteBuffer.wrap(new byte[] {7}), 0);
        assertThat(a.durableChunks()).isEmpty();
        assertThat(overTcp.flushVolume(FlushVolumeRequest.newBuilder().setVolumeId("vol-a").build()).getWasOpen())
            .isTrue();
        assertThat(a.durableChunks()).as("flushed over TCP").containsExactly(3L);
      } finally {
        ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void badAddressesNameTheFix() throws Exception {
    assertThatThrownBy(() -> GatewayControlServer.start("tcp://127.0.0.1", provider.volumes()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tcp://HOST:PORT");
    assertThatThrownBy(() -> GatewayControlServer.start("tcp://127.0.0.1:99999", provider.volumes()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tcp://HOST:PORT");
    assertThatThrownBy(() -> GatewayControlServer.start("control.sock", provider.volumes()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unix:///", "tcp://HOST:PORT");
    try (GatewayControlServer first = GatewayControlServer.start("tcp://127.0.0.1:0", provider.volumes())) {
      assertThatThrownBy(() -> GatewayControlServer.start(first.address(), provider.volumes()))
          .isInstanceOf(java.io.IOException.class).hasMessageContaining("pick another host or port");
    }
  }
}
