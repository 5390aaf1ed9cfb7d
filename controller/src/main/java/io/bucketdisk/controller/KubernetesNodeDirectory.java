package io.bucketdisk.controller;

import io.kubernetes.client.openapi.ApiClient;
import io.kubernetes.client.openapi.ApiException;
import io.kubernetes.client.openapi.apis.CoreV1Api;
import io.kubernetes.client.util.ClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Node ids checked against the Kubernetes API ({@code GET /api/v1/nodes/<name>}) with the official client, using the
 * pod's service account. The CSI node id of bucketdisk is the Kubernetes node name. Needs RBAC {@code nodes: get}.
 * Thread safe.
 */
public final class KubernetesNodeDirectory implements NodeDirectory {

  private static final String TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  private final CoreV1Api api;

  private KubernetesNodeDirectory(ApiClient client) {
    this.api = new CoreV1Api(client);
  }

  /** True when this process runs in a pod with a service account (env and token file present). */
  public static boolean inCluster(Map<String, String> env) {
    return env.containsKey("KUBERNETES_SERVICE_HOST") && Files.isReadable(Path.of(TOKEN));
  }

  /** A directory using the in-cluster configuration. */
  public static KubernetesNodeDirectory fromCluster() throws IOException {
    return new KubernetesNodeDirectory(ClientBuilder.cluster().build());
  }

  @Override
  public boolean exists(String nodeId) {
    try {
      api.readNode(nodeId).execute();
      return true;
    } catch (ApiException e) {
      if (e.getCode() == 404) {
        return false;
      }
      throw new VolumeError(VolumeError.Reason.UNAVAILABLE, "cannot check node " + nodeId
          + " with the Kubernetes API: HTTP " + e.getCode());
    }
  }

  @Override
  public String describe() {
    return "the Kubernetes API (nodes)";
  }
}
