package io.bucketdisk.node;

import io.grpc.Status;
import java.io.IOException;
import java.util.Optional;

/**
 * The volumes this node holds (staged, or published inline as ephemeral volumes): the records of {@link
 * StagingState}, at most {@code maxVolumes} of them. {@link #staged} throws NOT_FOUND for a volume with no record
 * here and {@link #checkRoom} RESOURCE_EXHAUSTED when the node is full; {@link #put} and {@link #remove} throw
 * IOException from the state directory. Thread-safe as StagingState is; callers serialise changes to one volume
 * (NodeService runs one RPC per volume at a time).
 */
final class NodeVolumes {
  private final String nodeId;
  private final long maxVolumes;
  private final StagingState state;

  NodeVolumes(String nodeId, long maxVolumes, StagingState state) {
    this.nodeId = nodeId;
    this.maxVolumes = maxVolumes;
    this.state = state;
  }

  Optional<StagedVolume> get(String volumeId) {
    return state.get(volumeId);
  }

  /** The record of {@code volumeId}; NOT_FOUND when there is none. */
  StagedVolume staged(String volumeId) {
    return state.get(volumeId).orElseThrow(() ->
        NodeErrors.notFound("volume " + volumeId + " is not staged on node " + nodeId));
  }

  /** RESOURCE_EXHAUSTED when the node already holds {@code maxVolumes} volumes. */
  void checkRoom() {
    if (state.all().size() >= maxVolumes) {
      throw Status.RESOURCE_EXHAUSTED.withDescription("node " + nodeId + " already has " + maxVolumes + " volumes")
          .asRuntimeException();
    }
  }

  void put(StagedVolume v) throws IOException {
    state.put(v);
  }

  void remove(String volumeId) throws IOException {
    state.remove(volumeId);
  }
}
