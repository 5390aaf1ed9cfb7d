package io.bucketdisk.deploy;

import io.kubernetes.client.common.KubernetesObject;
import io.kubernetes.client.util.ModelMapper;
import io.kubernetes.client.util.Yaml;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;
import org.yaml.snakeyaml.LoaderOptions;

/**
 * The kustomize base in {@code deploy/kubernetes}, loaded the way the official Kubernetes Java client loads
 * manifests: every document of every file named in {@code kustomization.yaml} becomes its typed model object
 * ({@code V1Deployment}, {@code V1CSIDriver}, ...). Kinds the client has no model for (the VolumeSnapshot CRDs)
 * stay as plain maps. The base uses no kustomize transformers, so the files are what gets applied.
 *
 * <p>The client's loader rejects unknown fields (a misspelt key fails {@link #load} naming the document). On
 * top of that every document is dumped back from its typed object and each key path of the file must still be
 * there, so nothing is dropped silently; {@link #unknownFields()} lists any that were.
 */
final class Manifests {

  /** One YAML document: the file it came from, its raw tree, and its typed object (null for CRD kinds). */
  record Doc(String file, Map<String, Object> raw, @Nullable KubernetesObject typed) {
    String kind() {
      return (String) raw.get("kind");
    }

    String name() {
      return (String) ((Map<?, ?>) raw.get("metadata")).get("name");
    }
  }

  private final Path dir;
  private final List<String> resources;
  private final List<Doc> docs;
  private final List<String> unknownFields;

  private Manifests(Path dir, List<String> resources, List<Doc> docs, List<String> unknownFields) {
    this.dir = dir;
    this.resources = resources;
    this.docs = docs;
    this.unknownFields = unknownFields;
  }

  /** Loads the base in {@code dir}; throws if a listed file is missing or a document does not parse. */
  static Manifests load(Path dir) throws IOException {
    var kustomization = rawYaml().<Map<String, Object>>load(Files.readString(dir.resolve("kustomization.yaml")));
    @SuppressWarnings("unchecked")
    var resources = List.copyOf((List<String>) Objects.requireNonNull(kustomization.get("resources"), "kustomization.yaml has no resources"));
    var docs = new ArrayList<Doc>();
    var unknown = new ArrayList<String>();
    for (var file : resources) {
      for (var rawDoc : rawYaml().loadAll(Files.readString(dir.resolve(file)))) {
        if (rawDoc == null) {
          continue;
        }
        @SuppressWarnings("unchecked")
        var raw = (Map<String, Object>) rawDoc;
        var type = ModelMapper.getApiTypeClass((String) raw.get("apiVersion"), (String) raw.get("kind"));
        KubernetesObject typed = null;
        // Kinds without a generated model (CRDs) map to DynamicKubernetesObject: keep those as raw maps.
        if (type != null && type.getPackageName().equals("io.kubernetes.client.openapi.models")) {
          var where = file + " " + raw.get("kind") + "/" + ((Map<?, ?>) raw.get("metadata")).get("name");
          try {
            typed = (KubernetesObject) Yaml.loadAs(rawYaml().dump(raw), type);
          } catch (RuntimeException e) {
            Throwable root = e;
            while (root.getCause() != null) {
              root = root.getCause();
            }
            throw new IllegalArgumentException(where + " does not match the " + type.getSimpleName() + " model: " + root.getMessage(), e);
          }
          var back = rawYaml().<Map<String, Object>>load(Yaml.dump(typed));
          missingPaths(raw, back, "", where, unknown);
        }
        docs.add(new Doc(file, raw, typed));
      }
    }
    return new Manifests(dir, resources, List.copyOf(docs), List.copyOf(unknown));
  }

  private static org.yaml.snakeyaml.Yaml rawYaml() {
    return new org.yaml.snakeyaml.Yaml(new LoaderOptions());
  }

  /** Adds every key path of {@code original} that {@code roundTripped} lacks. */
  private static void missingPaths(Object original, @Nullable Object roundTripped, String path, String where, List<String> out) {
    if (original instanceof Map<?, ?> map) {
      if (!(roundTripped instanceof Map<?, ?> other)) {
        out.add(where + ": " + path + " was dropped");
        return;
      }
      for (var e : map.entrySet()) {
        var key = String.valueOf(e.getKey());
        if (!other.containsKey(key)) {
          out.add(where + ": unknown field " + path + "." + key);
        } else {
          missingPaths(e.getValue(), other.get(key), path + "." + key, where, out);
        }
      }
    } else if (original instanceof List<?> list) {
      if (!(roundTripped instanceof List<?> other) || other.size() != list.size()) {
        out.add(where + ": " + path + " changed length");
        return;
      }
      for (int i = 0; i < list.size(); i++) {
        missingPaths(list.get(i), other.get(i), path + "[" + i + "]", where, out);
      }
    }
  }

  Path dir() {
    return dir;
  }

  List<String> resources() {
    return resources;
  }

  List<Doc> docs() {
    return docs;
  }

  List<String> unknownFields() {
    return unknownFields;
  }

  /** Every typed object of this class, in file order. */
  <T extends KubernetesObject> List<T> all(Class<T> type) {
    return docs.stream().map(Doc::typed).filter(type::isInstance).map(type::cast).toList();
  }

  /** The one object of this class and name; fails the caller's assertion with the names that exist. */
  <T extends KubernetesObject> T one(Class<T> type, String name) {
    var matches = all(type).stream().filter(o -> name.equals(o.getMetadata().getName())).toList();
    if (matches.size() != 1) {
      var names = new TreeSet<String>();
      all(type).forEach(o -> names.add(o.getMetadata().getName()));
      throw new AssertionError("expected one " + type.getSimpleName() + " named " + name + ", found " + matches.size() + " among " + names);
    }
    return matches.getFirst();
  }

  /** Documents the client has no model class for (CRD kinds), as raw maps. */
  List<Doc> untyped() {
    return docs.stream().filter(d -> d.typed() == null).toList();
  }
}
