package io.bucketdisk.e2e.k3s;

import com.google.gson.Gson;
import io.kubernetes.client.openapi.ApiClient;
import io.kubernetes.client.openapi.ApiException;
import io.kubernetes.client.util.generic.dynamic.DynamicKubernetesApi;
import io.kubernetes.client.util.generic.dynamic.DynamicKubernetesObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * Creates the objects of YAML manifests in a cluster through the Kubernetes Java client's dynamic API, the way
 * {@code kubectl create -f} would: one document at a time, in file order, so CRDs come before their objects.
 * Objects whose kind the server does not know yet (a CRD still being established) are retried for a bounded
 * time. Not thread-safe; one instance per cluster.
 */
final class ManifestApplier {
  private static final Logger log = LoggerFactory.getLogger(ManifestApplier.class);
  private static final Map<String, String> PLURALS = Map.ofEntries(
      Map.entry("StorageClass", "storageclasses"),
      Map.entry("VolumeSnapshotClass", "volumesnapshotclasses"),
      Map.entry("CustomResourceDefinition", "customresourcedefinitions"),
      Map.entry("ClusterRoleBinding", "clusterrolebindings"),
      Map.entry("RoleBinding", "rolebindings"),
      Map.entry("ClusterRole", "clusterroles"),
      Map.entry("Role", "roles"),
      Map.entry("ServiceAccount", "serviceaccounts"),
      Map.entry("ConfigMap", "configmaps"),
      Map.entry("Secret", "secrets"),
      Map.entry("Namespace", "namespaces"),
      Map.entry("CSIDriver", "csidrivers"),
      Map.entry("Deployment", "deployments"),
      Map.entry("DaemonSet", "daemonsets"),
      Map.entry("StatefulSet", "statefulsets"),
      Map.entry("VolumeSnapshot", "volumesnapshots"));
  private static final Duration UNKNOWN_KIND_RETRY = Duration.ofSeconds(90);

  private final ApiClient client;
  private final Gson gson = new Gson();

  ManifestApplier(ApiClient client) {
    this.client = client;
  }

  /** The documents of a kustomize base without transformers: the files its kustomization.yaml lists. */
  static List<Map<String, Object>> kustomizeBase(Path dir, UnaryOperator<String> edit) throws java.io.IOException {
    Map<String, Object> kustomization = new Yaml(new LoaderOptions()).load(Files.readString(dir.resolve("kustomization.yaml")));
    @SuppressWarnings("unchecked")
    var files = (List<String>) kustomization.get("resources");
    var docs = new ArrayList<Map<String, Object>>();
    for (var file : files) {
      docs.addAll(documents(edit.apply(Files.readString(dir.resolve(file)))));
    }
    return docs;
  }

  /** Every non-empty YAML document of a text. */
  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> documents(String yaml) {
    var out = new ArrayList<Map<String, Object>>();
    for (var doc : new Yaml(new LoaderOptions()).loadAll(yaml)) {
      if (doc instanceof Map<?, ?> map) {
        out.add((Map<String, Object>) map);
      }
    }
    return out;
  }

  /** Creates every document; an object that already exists is left as it is. */
  void create(List<Map<String, Object>> docs) throws ApiException, InterruptedException {
    for (var doc : docs) {
      create(doc);
    }
  }

  void create(Map<String, Object> doc) throws ApiException, InterruptedException {
    var apiVersion = (String) doc.get("apiVersion");
    var kind = (String) doc.get("kind");
    var slash = apiVersion.indexOf('/');
    var group = slash < 0 ? "" : apiVersion.substring(0, slash);
    var version = apiVersion.substring(slash + 1);
    var plural = PLURALS.getOrDefault(kind, kind.toLowerCase(Locale.ROOT) + "s");
    var api = new DynamicKubernetesApi(group, version, plural, client);
    var object = new DynamicKubernetesObject(gson.toJsonTree(doc).getAsJsonObject());
    var deadline = Instant.now().plus(UNKNOWN_KIND_RETRY);
    while (true) {
      var response = api.create(object);
      if (response.isSuccess() || response.getHttpStatusCode() == 409) {
        log.info("created {} {}", kind, object.getMetadata().getName());
        return;
      }
      // 404 on create: the resource type is not served yet (CRD not established).
      if (response.getHttpStatusCode() == 404 && Instant.now().isBefore(deadline)) {
        Thread.sleep(2000);
        continue;
      }
      throw new ApiException(response.getHttpStatusCode(), "create " + kind + " " + object.getMetadata().getName() + ": "
          + (response.getStatus() == null ? "" : response.getStatus().getMessage()));
    }
  }
}
