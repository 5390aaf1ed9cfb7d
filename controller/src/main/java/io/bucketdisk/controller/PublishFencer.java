package io.bucketdisk.controller;

import io.bucketdisk.proto.csi.VolumeCapability.AccessMode.Mode;
import io.bucketdisk.store.StoreException;
import io.bucketdisk.store.layout.Publication;
import io.bucketdisk.store.layout.VolumeManifest;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ControllerPublish/Unpublish: records which nodes a volume is attached to in its manifest (a conditional write in
 * the store, so two controllers can never both hand a single-writer volume to different nodes) and refuses a second
 * node unless the access mode allows it.
 *
 * <p><b>Rules</b> (spec.md §ControllerPublishVolume): unknown volume or node NOT_FOUND; the same node again with the
 * same read-only flag OK, with the other flag ALREADY_EXISTS; another node holding a SINGLE_NODE_* volume, or a
 * MULTI_NODE_READER_ONLY publish while another node has it read-write, FAILED_PRECONDITION naming the holder.
 * *_READER_ONLY modes are always published read-only, and each such node reads the volume from its own gateway without
 * a lease. The multi-writer modes never get here: {@code ControllerService.unsupported} refuses them. Unpublish is idempotent, and an empty node id detaches from every node.
 *
 * <p>publish_context carries {@code exportName} (the volume id), {@code readOnly} and, when configured, {@code
 * gatewayAddress} (the NBD address the node should use). Thread safe.
 */
final class PublishFencer {

  static final String EXPORT_NAME = "exportName";
  static final String READ_ONLY = "readOnly";
  static final String GATEWAY_ADDRESS = "gatewayAddress";
  private static final Logger log = LoggerFactory.getLogger(PublishFencer.class);

  private final VolumeManager volumes;
  private final NodeDirectory nodes;
  private final @Nullable String gatewayAddress;

  PublishFencer(VolumeManager volumes, NodeDirectory nodes, @Nullable String gatewayAddress) {
    this.volumes = volumes;
    this.nodes = nodes;
    this.gatewayAddress = gatewayAddress;
  }

  Map<String, String> publish(String volumeId, String nodeId, boolean readOnlyRequested, Mode mode)
      throws IOException {
    boolean readOnly = readOnlyRequested || mode == Mode.SINGLE_NODE_READER_ONLY
        || mode == Mode.MULTI_NODE_READER_ONLY;
    try (var lock = volumes.locks().acquire("volume:" + volumeId)) {
      VolumeManifest m = volumes.require(volumeId);
      if (!nodes.exists(nodeId)) {
        throw VolumeError.notFound("node " + nodeId + " is not known (" + nodes.describe() + ")");
      }
      Publication mine = m.publications().get(nodeId);
      if (mine != null) {
        if (mine.readOnly() != readOnly) {
          throw new VolumeError(VolumeError.Reason.ALREADY_EXISTS, "volume " + volumeId + " is already published to "
              + nodeId + (mine.readOnly() ? " read-only" : " read-write") + "; unpublish it first to change that");
        }
        return context(volumeId, readOnly);
      }
      var others = new LinkedHashMap<>(m.publications());
      others.remove(nodeId);
      if (!others.isEmpty()) {
        boolean singleNode = switch (mode) {
          case MULTI_NODE_READER_ONLY, MULTI_NODE_SINGLE_WRITER, MULTI_NODE_MULTI_WRITER -> false;
          default -> true;
        };
        if (singleNode) {
          throw new VolumeError(VolumeError.Reason.PRECONDITION, "volume " + volumeId + " is published to node "
              + String.join(",", others.keySet()) + " and its access mode " + mode
              + " allows one node; unpublish it there first");
        }
        String writers = others.entrySet().stream().filter(e -> !e.getValue().readOnly()).map(Map.Entry::getKey)
            .collect(Collectors.joining(","));
        if (mode == Mode.MULTI_NODE_READER_ONLY && !writers.isEmpty()) {
          throw new VolumeError(VolumeError.Reason.PRECONDITION, "volume " + volumeId + " is published read-write to "
              + "node " + writers + "; MULTI_NODE_READER_ONLY readers need an image nobody writes: unpublish it there");
        }
        if (!readOnly && !writers.isEmpty() && mode != Mode.MULTI_NODE_MULTI_WRITER) {
          throw new VolumeError(VolumeError.Reason.PRECONDITION, "volume " + volumeId
              + " already has a writer on node " + writers + "; access mode " + mode + " allows only one");
        }
      }
      try {
        // The single-writer check is repeated inside the store's conditional manifest update, so two controller
        // processes racing to hand the volume to two writers cannot both win.
        volumes.catalog().publish(volumeId, nodeId, readOnly, mode != Mode.MULTI_NODE_MULTI_WRITER);
      } catch (StoreException e) {
        if (e.kind() == StoreException.Kind.CONFLICT) {
          throw new VolumeError(VolumeError.Reason.PRECONDITION, "volume " + volumeId + " cannot be published to "
              + nodeId + ": " + e.getMessage());
        }
        throw e;
      }
      log.info("volume {}: published to node {}{}", volumeId, nodeId, readOnly ? " read-only" : "");
      return context(volumeId, readOnly);
    }
  }

  void unpublish(String volumeId, String nodeId) throws IOException {
    try (var lock = volumes.locks().acquire("volume:" + volumeId)) {
      var m = volumes.get(volumeId);
      if (m.isEmpty()) {
        return;
      }
      var targets = nodeId.isEmpty() ? m.get().publications().keySet() : java.util.Set.of(nodeId);
      for (String node : targets) {
        if (m.get().publications().containsKey(node)) {
          volumes.catalog().unpublish(volumeId, node);
          log.info("volume {}: unpublished from node {}", volumeId, node);
        }
      }
    }
  }

  private Map<String, String> context(String volumeId, boolean readOnly) {
    var ctx = new LinkedHashMap<String, String>();
    ctx.put(EXPORT_NAME, volumeId);
    ctx.put(READ_ONLY, Boolean.toString(readOnly));
    if (gatewayAddress != null) {
      ctx.put(GATEWAY_ADDRESS, gatewayAddress);
    }
    return ctx;
  }
}
