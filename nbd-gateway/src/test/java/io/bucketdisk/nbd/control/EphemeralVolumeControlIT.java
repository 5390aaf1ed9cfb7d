package io.bucketdisk.nbd.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.engine.cache.CacheConfig;
import io.bucketdisk.nbd.export.VolumeExportProvider;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.proto.gateway.CreateEphemeralVolumeRequest;
import io.bucketdisk.proto.gateway.CreateEphemeralVolumeResponse;
import io.bucketdisk.proto.gateway.DeleteEphemeralVolumeRequest;
import io.bucketdisk.proto.gateway.DeleteEphemeralVolumeResponse;
import io.bucketdisk.proto.gateway.GatewayControlGrpc;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeIds;
import io.bucketdisk.store.VolumeSpec;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * CreateEphemeralVolume and DeleteEphemeralVolume over the real control socket, against a gateway on a directory
 * store: the store holds the volume after create and nothing of it after delete.
 */
@Timeout(60)
class EphemeralVolumeControlIT {
  static final String NAME = "csi-" + "0123456789abcdef".repeat(4); // kubelet's form: too long for an id
  static final long SIZE = 8L << 20;
  static final int CHUNK = 1 << 20;

  Path dir;
  Path data;
  VolumeExportProvider provider;
  GatewayControlServer server;
  ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    dir = Files.createTempDirectory(Path.of("/tmp"), "bdeph");
    data = dir.resolve("store");
    Files.createDirectories(data);
    Path socket = dir.resolve("control.sock");
    provider = VolumeExportProvider.forStore(data.toUri(), new LeaseOwner("gw-eph", "unix://" + socket),
        CacheConfig.ofSize(256L << 20), null);
    server = GatewayControlServer.start(socket, provider.volumes());
    channel = Grpc.newChannelBuilder("unix://" + socket, InsecureChannelCredentials.create()).build();
  }

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.close();
    }
    if (provider != null) {
      provider.close();
    }
    if (dir != null) {
      try (var files = Files.walk(dir)) {
        for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  GatewayControlGrpc.GatewayControlBlockingStub stub() {
    return GatewayControlGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  CreateEphemeralVolumeResponse create(String name, long size) {
    return stub().createEphemeralVolume(CreateEphemeralVolumeRequest.newBuilder().setName(name).setSizeBytes(size)
        .setChunkSize(CHUNK).putParameters("fsType", "ext4").build());
  }

  CreateEphemeralVolumeResponse createOn(String node) {
    return stub().createEphemeralVolume(CreateEphemeralVolumeRequest.newBuilder().setName(NAME).setSizeBytes(SIZE)
        .setChunkSize(CHUNK).setNodeId(node).build());
  }

  DeleteEphemeralVolumeResponse delete(String id) {
    return stub().deleteEphemeralVolume(DeleteEphemeralVolumeRequest.newBuilder().setVolumeId(id).build());
  }

  /** Every file of the directory store whose path names {@code id}. */
  List<String> storedFilesOf(String id) throws IOException {
    var out = new ArrayList<String>();
    try (var files = Files.walk(data)) {
      files.filter(Files::isRegularFile).map(p -> data.relativize(p).toString()).filter(p -> p.contains(id))
          .forEach(out::add);
    }
    return out;
  }

  static void assertCode(ThrowingCallable call, Status.Code code, String... inMessage) {
    assertThatThrownBy(call).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
      assertThat(e.getStatus().getCode()).isEqualTo(code);
      assertThat(e.getStatus().getDescription()).contains(inMessage);
    });
  }

  @Test
  void createIsIdempotentByNameAndDeleteLeavesNothingInTheStore() throws Exception {
    var created = create(NAME, SIZE);
    String id = created.getVolumeId();
    assertThat(id).isEqualTo(VolumeIds.forName(NAME)).matches("[a-z0-9.-]{1,63}");
    assertThat(created.getSizeBytes()).isEqualTo(SIZE);
    var manifest = provider.volumes().catalog().orElseThrow().get(id).orElseThrow();
    assertThat(manifest.parameters()).containsEntry(VolumeIds.EPHEMERAL_KEY, "true")
        .containsEntry(VolumeIds.NAME_KEY, NAME).containsEntry("fsType", "ext4");
    assertThat(manifest.chunkSize()).isEqualTo(CHUNK);
    assertThat(create(NAME, SIZE).getVolumeId()).as("a retry gets the same volume").isEqualTo(id);
    assertCode(() -> create(NAME, 2 * SIZE), Status.Code.ALREADY_EXISTS, id, Long.toString(SIZE));

    // Data written through the gateway reaches the store; after delete nothing of it is left.
    try (Export e = provider.open(id).orElseThrow()) {
      byte[] bytes = new byte[4096];
      java.util.Arrays.fill(bytes, (byte) 7);
      e.write(3L * CHUNK, ByteBuffer.wrap(bytes), 0);
      e.flush(0);
    }
    assertThat(storedFilesOf(id)).as("a chunk object or a log segment (a close leaves the log)")
        .anyMatch(p -> p.contains("chunks") || p.contains("/log/"));
    assertThat(delete(id).getExisted()).isTrue();
    assertThat(storedFilesOf(id)).isEmpty();
    assertThat(provider.volumes().catalog().orElseThrow().get(id)).isEmpty();
    assertThat(delete(id).getExisted()).as("a retried delete is OK").isFalse();
  }

  @Test
  void deleteWaitsForTheLastConnectionThenDeletes() throws Exception {
    String id = create(NAME, SIZE).getVolumeId();
    Export e = provider.open(id).orElseThrow();
    e.write(0, ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
    var closer = CompletableFuture.runAsync(() -> {
      try {
        Thread.sleep(500);
        e.close();
      } catch (Exception ex) {
        throw new IllegalStateException(ex);
      }
    });
    assertThat(delete(id).getExisted()).isTrue();
    closer.get(10, TimeUnit.SECONDS);
    assertThat(storedFilesOf(id)).isEmpty();
  }

  @Test
  void deleteRefusesAVolumeStillConnectedAndOneNotEphemeral() throws Exception {
    String id = create(NAME, SIZE).getVolumeId();
    var impatient = new GatewayControlService(provider.volumes(), Duration.ofMillis(200));
    try (Export e = provider.open(id).orElseThrow()) {
      var reply = new Recorder<DeleteEphemeralVolumeResponse>();
      impatient.deleteEphemeralVolume(DeleteEphemeralVolumeRequest.newBuilder().setVolumeId(id).build(), reply);
      assertThat(reply.error).isInstanceOfSatisfying(StatusRuntimeException.class, x -> {
        assertThat(x.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(x.getStatus().getDescription()).contains(id, "1 connection");
      });
      assertThat(provider.volumes().catalog().orElseThrow().get(id)).as("still there").isPresent();
    }
    assertThat(delete(id).getExisted()).isTrue();

    provider.volumes().catalog().orElseThrow().create(VolumeSpec.of("pvc-persistent", SIZE));
    assertCode(() -> delete("pvc-persistent"), Status.Code.FAILED_PRECONDITION, "not an ephemeral");
    assertThat(provider.volumes().catalog().orElseThrow().get("pvc-persistent")).isPresent();
    // A persistent volume whose id a name would map to is not taken over either.
    assertCode(() -> create("pvc-persistent", SIZE), Status.Code.ALREADY_EXISTS, "taken");
  }

  @Test
  void createRecordsThePublicationToTheNodeAndDeleteRemovesIt() throws Exception {
    var catalog = provider.volumes().catalog().orElseThrow();
    String id = createOn("node-a").getVolumeId();
    var pubs = catalog.get(id).orElseThrow().publications();
    assertThat(pubs).containsOnlyKeys("node-a");
    assertThat(pubs.get("node-a").readOnly()).isFalse();
    long at = pubs.get("node-a").publishedAtMillis();
    assertThat(createOn("node-a").getVolumeId()).as("a retry").isEqualTo(id);
    assertThat(catalog.get(id).orElseThrow().publications().get("node-a").publishedAtMillis())
        .as("a retry leaves the record as it was").isEqualTo(at);
    assertCode(() -> createOn("node-b"), Status.Code.FAILED_PRECONDITION, id, "node-a");
    assertThat(catalog.get(id).orElseThrow().publications()).containsOnlyKeys("node-a");

    // No lease (as while the node's gateway restarts): the publication alone still shows the volume is in use.
    assertThat(catalog.get(id).orElseThrow().lease()).isNull();
    assertThat(delete(id).getExisted()).isTrue();
    assertThat(catalog.get(id)).isEmpty();
    assertThat(storedFilesOf(id)).isEmpty();

    // An old node plugin sends no node id: no publication, as before.
    String again = create(NAME, SIZE).getVolumeId();
    assertThat(catalog.get(again).orElseThrow().publications()).isEmpty();
    assertThat(delete(again).getExisted()).isTrue();
  }

  @Test
  void badRequestsGetInvalidArgument() {
    assertCode(() -> create("", SIZE), Status.Code.INVALID_ARGUMENT, "name");
    assertCode(() -> create(NAME, 0), Status.Code.INVALID_ARGUMENT, "size_bytes");
    assertCode(() -> stub().createEphemeralVolume(CreateEphemeralVolumeRequest.newBuilder().setName(NAME)
        .setSizeBytes(SIZE).setChunkSize(1000).build()), Status.Code.INVALID_ARGUMENT, "chunk");
    assertCode(() -> delete(""), Status.Code.INVALID_ARGUMENT, "volume_id");
  }

  /** Captures a unary reply. */
  static final class Recorder<T> implements StreamObserver<T> {
    @Nullable T value;
    @Nullable Throwable error;

    @Override
    public void onNext(T v) {
      value = v;
    }

    @Override
    public void onError(Throwable t) {
      error = t;
    }

    @Override
    public void onCompleted() {}
  }
}
