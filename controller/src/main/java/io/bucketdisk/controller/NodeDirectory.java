package io.bucketdisk.controller;

import java.util.Set;

/**
 * Which node ids exist, for ControllerPublishVolume (spec: an unknown node is NOT_FOUND). In a cluster this is the
 * Kubernetes API ({@link KubernetesNodeDirectory}); outside, a static list ({@link #of}) or, when none was given,
 * {@link #ANY}. Implementations are thread safe.
 */
public interface NodeDirectory {

  /** Accepts every node id (no --nodes list and not in a cluster; a warning is logged at start). */
  NodeDirectory ANY = new NodeDirectory() {
    @Override
    public boolean exists(String nodeId) {
      return true;
    }

    @Override
    public String describe() {
      return "any node id (no --nodes list)";
    }
  };

  /** True when {@code nodeId} names a node; throws {@link VolumeError} (UNAVAILABLE) when that cannot be told. */
  boolean exists(String nodeId);

  /** For the start-up log line. */
  String describe();

  /** A fixed set of node ids. */
  static NodeDirectory of(Set<String> nodes) {
    Set<String> copy = Set.copyOf(nodes);
    return new NodeDirectory() {
      @Override
      public boolean exists(String nodeId) {
        return copy.contains(nodeId);
      }

      @Override
      public String describe() {
        return "static list " + copy;
      }
    };
  }
}
