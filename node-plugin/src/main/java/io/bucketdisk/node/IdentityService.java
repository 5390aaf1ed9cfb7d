package io.bucketdisk.node;

import com.google.protobuf.BoolValue;
import io.bucketdisk.proto.csi.GetPluginCapabilitiesRequest;
import io.bucketdisk.proto.csi.GetPluginCapabilitiesResponse;
import io.bucketdisk.proto.csi.GetPluginInfoRequest;
import io.bucketdisk.proto.csi.GetPluginInfoResponse;
import io.bucketdisk.proto.csi.IdentityGrpc;
import io.bucketdisk.proto.csi.PluginCapability;
import io.bucketdisk.proto.csi.ProbeRequest;
import io.bucketdisk.proto.csi.ProbeResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.function.BooleanSupplier;

/**
 * CSI Identity of the node plugin: driver {@code csi.bucketdisk.io} 0.1.0, the same plugin capabilities as the
 * controller (the spec wants one set per version), and a Probe that fails with FAILED_PRECONDITION while the
 * kernel's nbd family is unreachable. Thread-safe.
 */
public final class IdentityService extends IdentityGrpc.IdentityImplBase {
  public static final String NAME = "csi.bucketdisk.io";
  public static final String VERSION = "0.1.0";
  private final BooleanSupplier ready;

  IdentityService(BooleanSupplier ready) {
    this.ready = ready;
  }

  @Override
  public void getPluginInfo(GetPluginInfoRequest request, StreamObserver<GetPluginInfoResponse> out) {
    out.onNext(GetPluginInfoResponse.newBuilder().setName(NAME).setVendorVersion(VERSION).build());
    out.onCompleted();
  }

  @Override
  public void getPluginCapabilities(GetPluginCapabilitiesRequest request, StreamObserver<GetPluginCapabilitiesResponse> out) {
    out.onNext(GetPluginCapabilitiesResponse.newBuilder()
        .addCapabilities(PluginCapability.newBuilder().setService(PluginCapability.Service.newBuilder()
            .setType(PluginCapability.Service.Type.CONTROLLER_SERVICE)))
        .addCapabilities(PluginCapability.newBuilder().setVolumeExpansion(PluginCapability.VolumeExpansion.newBuilder()
            .setType(PluginCapability.VolumeExpansion.Type.ONLINE)))
        .build());
    out.onCompleted();
  }

  @Override
  public void probe(ProbeRequest request, StreamObserver<ProbeResponse> out) {
    if (!ready.getAsBoolean()) {
      out.onError(Status.FAILED_PRECONDITION.withDescription("kernel nbd module not loaded: run modprobe nbd")
          .asRuntimeException());
      return;
    }
    out.onNext(ProbeResponse.newBuilder().setReady(BoolValue.of(true)).build());
    out.onCompleted();
  }
}
