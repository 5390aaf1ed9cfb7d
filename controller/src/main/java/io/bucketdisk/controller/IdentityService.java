package io.bucketdisk.controller;

import com.google.protobuf.BoolValue;
import io.bucketdisk.proto.csi.GetPluginCapabilitiesRequest;
import io.bucketdisk.proto.csi.GetPluginCapabilitiesResponse;
import io.bucketdisk.proto.csi.GetPluginInfoRequest;
import io.bucketdisk.proto.csi.GetPluginInfoResponse;
import io.bucketdisk.proto.csi.IdentityGrpc;
import io.bucketdisk.proto.csi.PluginCapability;
import io.bucketdisk.proto.csi.ProbeRequest;
import io.bucketdisk.proto.csi.ProbeResponse;
import io.bucketdisk.store.VolumeCatalog;
import io.grpc.stub.StreamObserver;

/**
 * CSI Identity of the controller: name {@value #NAME}, version {@value #VERSION}; capabilities CONTROLLER_SERVICE
 * and ONLINE volume expansion (the same set every bucketdisk instance reports); Probe lists one key of the bucket, so
 * it fails with FAILED_PRECONDITION (spec.md §Probe) while the store is unreachable.
 */
public final class IdentityService extends IdentityGrpc.IdentityImplBase {

  public static final String NAME = "csi.bucketdisk.io";
  public static final String VERSION = "0.1.0";

  private final VolumeCatalog catalog;

  public IdentityService(VolumeCatalog catalog) {
    this.catalog = catalog;
  }

  /** The capabilities every bucketdisk plugin instance (controller or node) reports. */
  public static GetPluginCapabilitiesResponse capabilities() {
    return GetPluginCapabilitiesResponse.newBuilder()
        .addCapabilities(PluginCapability.newBuilder().setService(PluginCapability.Service.newBuilder()
            .setType(PluginCapability.Service.Type.CONTROLLER_SERVICE)))
        .addCapabilities(PluginCapability.newBuilder().setVolumeExpansion(PluginCapability.VolumeExpansion.newBuilder()
            .setType(PluginCapability.VolumeExpansion.Type.ONLINE)))
        .build();
  }

  @Override
  public void getPluginInfo(GetPluginInfoRequest request, StreamObserver<GetPluginInfoResponse> out) {
    ControllerErrors.reply("GetPluginInfo", out,
        () -> GetPluginInfoResponse.newBuilder().setName(NAME).setVendorVersion(VERSION).build());
  }

  @Override
  public void getPluginCapabilities(GetPluginCapabilitiesRequest request,
      StreamObserver<GetPluginCapabilitiesResponse> out) {
    ControllerErrors.reply("GetPluginCapabilities", out, IdentityService::capabilities);
  }

  @Override
  public void probe(ProbeRequest request, StreamObserver<ProbeResponse> out) {
    ControllerErrors.reply("Probe", out, () -> {
      try {
        catalog.objectStore().list("volumes/", null, 1);
      } catch (Exception e) {
        throw new VolumeError(VolumeError.Reason.PRECONDITION, "store " + catalog.objectStore().describe()
            + " is not reachable: " + e.getMessage());
      }
      return ProbeResponse.newBuilder().setReady(BoolValue.of(true)).build();
    });
  }
}
