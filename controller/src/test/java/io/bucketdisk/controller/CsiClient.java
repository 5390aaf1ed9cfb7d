package io.bucketdisk.controller;

import io.bucketdisk.proto.csi.ControllerGrpc;
import io.bucketdisk.proto.csi.CreateSnapshotRequest;
import io.bucketdisk.proto.csi.CreateVolumeRequest;
import io.bucketdisk.proto.csi.IdentityGrpc;
import io.bucketdisk.proto.csi.VolumeCapability;
import io.bucketdisk.proto.csi.VolumeCapability.AccessMode.Mode;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A CSI client over the real Unix socket, with request builders and status assertions for the tests. */
final class CsiClient implements AutoCloseable {

  static final long GIB = 1L << 30;
  final ManagedChannel channel;
  final IdentityGrpc.IdentityBlockingStub identity;
  final ControllerGrpc.ControllerBlockingStub controller;

  CsiClient(Path socket) {
    channel = Grpc.newChannelBuilder("unix://" + socket, InsecureChannelCredentials.create()).build();
    identity = IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    controller = ControllerGrpc.newBlockingStub(channel);
  }

  ControllerGrpc.ControllerBlockingStub ctl() {
    return controller.withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  static VolumeCapability block(Mode mode) {
    return VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode)).build();
  }

  static VolumeCapability block() {
    return block(Mode.SINGLE_NODE_WRITER);
  }

  static VolumeCapability mount(String fs, Mode mode) {
    return VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs))
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode)).build();
  }

  static CreateVolumeRequest.Builder createReq(String name, long required, long limit) {
    return CreateVolumeRequest.newBuilder().setName(name).addVolumeCapabilities(block())
        .setCapacityRange(io.bucketdisk.proto.csi.CapacityRange.newBuilder().setRequiredBytes(required)
            .setLimitBytes(limit));
  }

  static CreateSnapshotRequest snapReq(String name, String volumeId) {
    return CreateSnapshotRequest.newBuilder().setName(name).setSourceVolumeId(volumeId).build();
  }

  /** Asserts the call fails with {@code code}; returns the description. */
  static String assertCode(Status.Code code, ThrowingCallable call) {
    var holder = new String[1];
    assertThatThrownBy(call).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
      org.assertj.core.api.Assertions.assertThat(e.getStatus().getCode()).as(e.getStatus().toString())
          .isEqualTo(code);
      org.assertj.core.api.Assertions.assertThat(e.getStatus().getDescription()).as("human message").isNotBlank();
      holder[0] = e.getStatus().getDescription();
    });
    return holder[0];
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
