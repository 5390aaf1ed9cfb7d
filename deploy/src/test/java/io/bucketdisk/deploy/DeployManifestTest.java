package io.bucketdisk.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertAll;

import io.bucketdisk.controller.IdentityService;
import io.kubernetes.client.common.KubernetesObject;
import io.kubernetes.client.custom.Quantity;
import io.kubernetes.client.openapi.models.V1ClusterRole;
import io.kubernetes.client.openapi.models.V1ClusterRoleBinding;
import io.kubernetes.client.openapi.models.V1ConfigMap;
import io.kubernetes.client.openapi.models.V1CSIDriver;
import io.kubernetes.client.openapi.models.V1Container;
import io.kubernetes.client.openapi.models.V1DaemonSet;
import io.kubernetes.client.openapi.models.V1Deployment;
import io.kubernetes.client.openapi.models.V1EnvVar;
import io.kubernetes.client.openapi.models.V1Namespace;
import io.kubernetes.client.openapi.models.V1PodTemplateSpec;
import io.kubernetes.client.openapi.models.V1PolicyRule;
import io.kubernetes.client.openapi.models.V1Role;
import io.kubernetes.client.openapi.models.V1RoleBinding;
import io.kubernetes.client.openapi.models.V1Secret;
import io.kubernetes.client.openapi.models.V1ServiceAccount;
import io.kubernetes.client.openapi.models.V1StorageClass;
import io.kubernetes.client.openapi.models.V1Volume;
import io.kubernetes.client.openapi.models.V1VolumeMount;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Loads every manifest of the kustomize base with the Kubernetes Java client and checks that the pieces are
 * wired to each other: sockets, host paths, driver name, RBAC, pinned images, metrics ports, config refs.
 * Each test names the object and field at fault, so a broken edit reads as a to-do list.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
final class DeployManifestTest {

  static final String DRIVER = IdentityService.NAME;
  static final String NAMESPACE = "bucketdisk";
  static final String IMAGE_REPO = "ghcr.io/bucketdisk/bucketdisk";
  static final Path BASE = Path.of("kubernetes");

  /** The flags each bucketdisk subcommand takes in the manifests, and the metrics port it must use. */
  static final Map<String, Set<String>> FLAGS = Map.of(
      "controller", Set.of("endpoint", "store", "metrics", "tls-cert", "tls-key", "tls-ca"),
      "node", Set.of("endpoint", "node-id", "gateway", "gateway-control", "state-dir", "metrics"),
      "gateway", Set.of("store", "listen", "control", "cache-size", "metrics", "tls-cert", "tls-key", "tls-client-ca"));
  /** Metrics ports by subcommand. */
  static final Map<String, Integer> METRICS_PORT = Map.of("gateway", 9810, "controller", 9811, "node", 9812);

  /** The sidecars the manifests may use, at the tags this project is tested with (reference/csi.md §4.4). */
  static final Map<String, String> SIDECAR_TAGS = Map.of(
      "csi-provisioner", "v6.3.0",
      "csi-attacher", "v4.12.0",
      "csi-resizer", "v2.2.1",
      "csi-snapshotter", "v8.6.0",
      "csi-node-driver-registrar", "v2.17.0",
      "livenessprobe", "v2.19.0");

  /** API access each sidecar needs (its upstream rbac.yaml); "leases" means leader election in the pod's namespace. */
  static final Map<String, List<Need>> SIDECAR_RBAC = Map.of(
      "csi-provisioner", List.of(
          new Need("", "persistentvolumes", "get", "list", "watch", "create", "delete"),
          new Need("", "persistentvolumeclaims", "get", "list", "watch", "update"),
          new Need("storage.k8s.io", "storageclasses", "get", "list", "watch"),
          new Need("", "events", "list", "watch", "create", "update", "patch"),
          new Need("snapshot.storage.k8s.io", "volumesnapshots", "get", "list"),
          new Need("snapshot.storage.k8s.io", "volumesnapshotcontents", "get", "list"),
          new Need("storage.k8s.io", "csinodes", "get", "list", "watch"),
          new Need("", "nodes", "get", "list", "watch"),
          new Need("storage.k8s.io", "volumeattachments", "get", "list", "watch")),
      "csi-attacher", List.of(
          new Need("", "persistentvolumes", "get", "list", "watch", "patch"),
          new Need("storage.k8s.io", "csinodes", "get", "list", "watch"),
          new Need("storage.k8s.io", "volumeattachments", "get", "list", "watch", "patch"),
          new Need("storage.k8s.io", "volumeattachments/status", "patch")),
      "csi-resizer", List.of(
          new Need("", "persistentvolumes", "get", "list", "watch", "patch"),
          new Need("", "persistentvolumeclaims", "get", "list", "watch"),
          new Need("", "persistentvolumeclaims/status", "patch"),
          new Need("", "pods", "get", "list", "watch"),
          new Need("", "events", "list", "watch", "create", "update", "patch"),
          new Need("storage.k8s.io", "volumeattributesclasses", "get", "list", "watch")),
      "csi-snapshotter", List.of(
          new Need("", "events", "list", "watch", "create", "update", "patch"),
          new Need("snapshot.storage.k8s.io", "volumesnapshotclasses", "get", "list", "watch"),
          new Need("snapshot.storage.k8s.io", "volumesnapshotcontents", "create", "get", "list", "watch", "update", "patch"),
          new Need("snapshot.storage.k8s.io", "volumesnapshotcontents/status", "update", "patch")),
      "csi-node-driver-registrar", List.of(),
      "livenessprobe", List.of());
  /** API access bucketdisk itself needs, by subcommand (the controller checks node ids against Nodes). */
  static final Map<String, List<Need>> BUCKETDISK_RBAC = Map.of(
      "controller", List.of(new Need("", "nodes", "get")),
      "node", List.of(),
      "gateway", List.of());
  static final Need LEASES = new Need("coordination.k8s.io", "leases", "get", "watch", "list", "delete", "update", "create");
  static final Set<String> CONTROLLER_SIDECARS = Set.of("csi-provisioner", "csi-attacher", "csi-resizer", "csi-snapshotter");

  record Need(String group, String resource, String... verbs) {}

  /** One pod template with the workload it belongs to. */
  record Pod(String workload, V1PodTemplateSpec template) {
    List<V1Container> containers() {
      return template.getSpec().getContainers();
    }

    V1Volume volume(String name) {
      return template.getSpec().getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
          .orElseThrow(() -> new AssertionError(workload + ": no volume named " + name));
    }
  }

  static Manifests m;

  @BeforeAll
  static void load() throws IOException {
    m = Manifests.load(BASE);
  }

  // ---- files and loading

  @Test
  void kustomizationListsEveryFileAndEveryFileExists() throws IOException {
    Set<String> onDisk;
    try (var files = Files.list(BASE)) {
      onDisk = files.map(p -> p.getFileName().toString())
          .filter(n -> n.endsWith(".yaml") || n.endsWith(".yml")).filter(n -> !n.equals("kustomization.yaml"))
          .collect(java.util.stream.Collectors.toSet());
    }
    assertThat(m.resources()).as("resources in kustomization.yaml").doesNotHaveDuplicates()
        .containsExactlyInAnyOrderElementsOf(onDisk);
  }

  @Test
  void everyDocumentLoadsIntoItsTypedModelWithNoUnknownField() {
    assertThat(m.unknownFields()).as("fields the Kubernetes model does not know (typos?)").isEmpty();
    assertThat(m.untyped()).as("documents without a client model class").allSatisfy(d ->
        assertThat(d.kind()).as(d.file()).isEqualTo("VolumeSnapshotClass"));
    var kinds = m.docs().stream().map(Manifests.Doc::kind).collect(java.util.stream.Collectors.toSet());
    assertThat(kinds).contains("Namespace", "CSIDriver", "StorageClass", "ServiceAccount", "ClusterRole",
        "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "DaemonSet", "VolumeSnapshotClass", "Secret", "ConfigMap");
  }

  @Test
  void objectNamesAreUniquePerKindAndNamespacedObjectsLiveInTheNamespace() {
    var seen = new HashSet<String>();
    var namespaced = Set.of("ServiceAccount", "Role", "RoleBinding", "Deployment", "DaemonSet", "Secret", "ConfigMap");
    assertAll(m.docs().stream().map(d -> () -> {
      var meta = (Map<?, ?>) d.raw().get("metadata");
      var ns = (String) meta.get("namespace");
      assertThat(seen.add(d.kind() + "/" + ns + "/" + d.name())).as("duplicate " + d.kind() + " " + d.name()).isTrue();
      if (namespaced.contains(d.kind())) {
        assertThat(ns).as(d.file() + " " + d.kind() + "/" + d.name() + " metadata.namespace").isEqualTo(NAMESPACE);
      } else {
        assertThat(ns).as(d.file() + " " + d.kind() + "/" + d.name() + " is cluster-scoped").isNull();
      }
    }));
    m.one(V1Namespace.class, NAMESPACE);
  }

  @Test
  void kubectlKustomizeRendersExactlyTheseObjects() throws Exception {
    var kubectl = Stream.of(Optional.ofNullable(System.getenv("PATH")).orElse("").split(java.io.File.pathSeparator))
        .map(d -> Path.of(d, "kubectl")).filter(Files::isExecutable).findFirst();
    io.bucketdisk.testing.Requirement.require(kubectl.isPresent(), "kubectl is not on PATH: cannot run `kubectl kustomize` (scripts/setup.sh installs Debian's kubernetes-client)");
    var out = Files.createTempFile("kustomize", ".yaml");
    try {
      var process = new ProcessBuilder(kubectl.get().toString(), "kustomize", BASE.toString())
          .redirectOutput(out.toFile()).redirectErrorStream(false).start();
      assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("kubectl kustomize finished within 30 s").isTrue();
      var stderr = new String(process.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertThat(process.exitValue()).as("kubectl kustomize exit code; stderr: " + stderr).isZero();
      var rendered = new HashSet<String>();
      for (var doc : new org.yaml.snakeyaml.Yaml().loadAll(Files.readString(out))) {
        var map = (Map<?, ?>) doc;
        var meta = (Map<?, ?>) map.get("metadata");
        rendered.add(map.get("kind") + "/" + meta.get("namespace") + "/" + meta.get("name"));
      }
      var files = new HashSet<String>();
      for (var d : m.docs()) {
        files.add(d.kind() + "/" + ((Map<?, ?>) d.raw().get("metadata")).get("namespace") + "/" + d.name());
      }
      assertThat(rendered).isEqualTo(files);
    } finally {
      Files.deleteIfExists(out);
    }
  }

  // ---- driver identity

  @Test
  void csiDriverMatchesWhatTheDriverImplements() {
    var spec = m.one(V1CSIDriver.class, DRIVER).getSpec();
    assertThat(spec.getAttachRequired()).as("attachRequired (ControllerPublish takes the single-writer lease)").isTrue();
    assertThat(spec.getPodInfoOnMount()).as("podInfoOnMount").isTrue();
    assertThat(spec.getVolumeLifecycleModes()).containsExactlyInAnyOrder("Persistent", "Ephemeral");
    assertThat(spec.getFsGroupPolicy()).isEqualTo("File");
  }

  @Test
  void storageClassesUseTheDriverAndOnlyKnownParameters() {
    var classes = m.all(V1StorageClass.class);
    assertThat(classes).isNotEmpty();
    var fsTypes = new ArrayList<@Nullable String>();
    assertAll(classes.stream().map(sc -> () -> {
      var name = "StorageClass " + sc.getMetadata().getName();
      assertThat(sc.getProvisioner()).as(name + " provisioner").isEqualTo(DRIVER);
      assertThat(sc.getAllowVolumeExpansion()).as(name + " allowVolumeExpansion").isTrue();
      var params = Optional.ofNullable(sc.getParameters()).orElse(Map.of());
      assertThat(params.keySet()).as(name + " parameters")
          .isSubsetOf("chunkSize", "readAheadChunks", "fsType", "csi.storage.k8s.io/fstype");
      assertThat(params).as(name + ": give fsType or csi.storage.k8s.io/fstype, not both")
          .doesNotContainKeys(params.containsKey("fsType") ? "csi.storage.k8s.io/fstype" : "-");
      var fs = params.getOrDefault("csi.storage.k8s.io/fstype", params.get("fsType"));
      fsTypes.add(fs);
      if (fs != null) {
        assertThat(fs).as(name + " fstype").isIn("ext4", "xfs");
      }
      if (params.containsKey("chunkSize")) {
        var bytes = Quantity.fromString(params.get("chunkSize")).getNumber().longValueExact();
        assertThat(Long.bitCount(bytes)).as(name + " chunkSize is a power of two").isEqualTo(1);
        assertThat(bytes).as(name + " chunkSize").isBetween(64L * 1024, 64L * 1024 * 1024);
      }
      if (params.containsKey("readAheadChunks")) {
        assertThat(Integer.parseInt(params.get("readAheadChunks"))).as(name + " readAheadChunks").isBetween(0, 64);
      }
    }));
    assertThat(fsTypes).as("a filesystem class and a raw block class (no fstype)").contains("ext4").containsNull();
  }

  @Test
  void volumeSnapshotClassUsesTheDriver() {
    var vsc = m.untyped().stream().filter(d -> d.kind().equals("VolumeSnapshotClass")).toList();
    assertThat(vsc).hasSize(1);
    assertThat(vsc.getFirst().raw()).containsEntry("driver", DRIVER).containsEntry("apiVersion", "snapshot.storage.k8s.io/v1");
    assertThat(vsc.getFirst().raw().get("deletionPolicy")).isIn("Delete", "Retain");
  }

  // ---- images and commands

  @Test
  void everyImageIsPinnedAndSidecarsAreTheTestedVersions() {
    assertAll(pods().flatMap(p -> allContainers(p).map(c -> () -> {
      var where = p.workload() + " container " + c.getName();
      var image = Objects.requireNonNull(c.getImage(), where + " image");
      var slash = image.lastIndexOf('/');
      var colon = image.lastIndexOf(':');
      assertThat(colon).as(where + ": image " + image + " has no tag").isGreaterThan(slash);
      var tag = image.substring(colon + 1);
      assertThat(tag).as(where + " tag").isNotIn("latest", "canary", "main", "master").matches("v?\\d+\\.\\d+\\.\\d+.*");
      var repo = image.substring(0, colon);
      if (repo.equals(IMAGE_REPO)) {
        assertThat(tag).as(where + " bucketdisk image tag = driver version").isEqualTo(IdentityService.VERSION);
      } else {
        assertThat(repo).as(where + " sidecar registry").startsWith("registry.k8s.io/sig-storage/");
        var sidecar = repo.substring(repo.lastIndexOf('/') + 1);
        assertThat(SIDECAR_TAGS).as(where + " known sidecar").containsKey(sidecar);
        assertThat(tag).as(where + " tag").isEqualTo(SIDECAR_TAGS.get(sidecar));
      }
    })));
  }

  /** What scripts/image.sh builds and tags (from the Dockerfile's version label) is what the manifests pull. */
  @Test
  void theImageTheDockerfileBuildsIsTheImageTheManifestsName() throws Exception {
    var dockerfile = java.nio.file.Files.readString(Path.of("Dockerfile"));
    var label = java.util.regex.Pattern.compile("org\\.opencontainers\\.image\\.version=\"([^\"]+)\"")
        .matcher(dockerfile);
    assertThat(label.find()).as("Dockerfile has an org.opencontainers.image.version label").isTrue();
    assertThat(label.group(1)).as("image version label = driver version").isEqualTo(IdentityService.VERSION);
    var tag = new ProcessBuilder("bash", "-c", ". ../scripts/image-env.sh && bd_image_tag").start();
    assertThat(tag.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    var built = new String(tag.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
    assertThat(built).as("scripts/image.sh's tag").isEqualTo(IMAGE_REPO + ":" + label.group(1));
    assertAll(bucketdisk().map(bc -> () -> assertThat(bc.container().getImage()).as(bc.where() + " image")
        .isEqualTo(built)));
  }

  @Test
  void bucketdiskContainersUseOnlyKnownFlagsAndDefinedEnvironment() {
    var seen = new HashSet<String>();
    assertAll(bucketdisk().map(bc -> () -> {
      var args = Objects.requireNonNull(bc.container().getArgs(), bc.where() + " args");
      var sub = args.getFirst();
      assertThat(FLAGS).as(bc.where() + " subcommand").containsKey(sub);
      seen.add(sub);
      var env = new HashSet<String>();
      Optional.ofNullable(bc.container().getEnv()).orElse(List.of()).forEach(e -> env.add(e.getName()));
      for (var arg : args.subList(1, args.size())) {
        assertThat(arg).as(bc.where() + " arg").matches("--[a-z-]+=.+");
        var flag = arg.substring(2, arg.indexOf('='));
        assertThat(FLAGS.get(sub)).as(bc.where() + " flag --" + flag).contains(flag);
        var refs = Pattern.compile("\\$\\(([A-Z0-9_]+)\\)").matcher(arg);
        while (refs.find()) {
          assertThat(env).as(bc.where() + ": " + arg + " refers to an env var the container defines").contains(refs.group(1));
        }
      }
      assertThat(args.stream().filter(a -> a.startsWith("--")).map(a -> a.substring(2, a.indexOf('='))).toList())
          .as(bc.where() + " has every flag").containsAll(FLAGS.get(sub));
    }));
    assertThat(seen).as("one workload per subcommand").containsExactlyInAnyOrderElementsOf(FLAGS.keySet());
  }

  @Test
  void configMapAndSecretReferencesResolve() {
    assertAll(pods().flatMap(p -> allContainers(p).flatMap(c -> Optional.ofNullable(c.getEnv()).orElse(List.of()).stream()
        .filter(e -> e.getValueFrom() != null).map(e -> () -> {
          var where = p.workload() + " container " + c.getName() + " env " + e.getName();
          var from = e.getValueFrom();
          if (from.getConfigMapKeyRef() != null) {
            var ref = from.getConfigMapKeyRef();
            assertThat(m.one(V1ConfigMap.class, ref.getName()).getData()).as(where).containsKey(ref.getKey());
          } else if (from.getSecretKeyRef() != null) {
            var ref = from.getSecretKeyRef();
            var secret = m.one(V1Secret.class, ref.getName());
            var keys = new HashSet<String>();
            Optional.ofNullable(secret.getStringData()).ifPresent(d -> keys.addAll(d.keySet()));
            Optional.ofNullable(secret.getData()).ifPresent(d -> keys.addAll(d.keySet()));
            assertThat(keys).as(where).contains(ref.getKey());
          } else {
            assertThat(from.getFieldRef()).as(where + " valueFrom").isNotNull();
          }
        }))));
    var store = m.one(V1ConfigMap.class, "bucketdisk-store").getData().get("store");
    assertThat(store).as("store URL").matches("s3://[a-z0-9.-]+(/[^?]*)?(\\?.*)?");
  }

  @Test
  void storeAndCredentialsReachEveryComponentThatTalksToS3() {
    assertAll(bucketdisk().filter(bc -> !bc.subcommand().equals("node")).map(bc -> () -> {
      var env = Optional.ofNullable(bc.container().getEnv()).orElse(List.of()).stream().map(V1EnvVar::getName).toList();
      assertThat(env).as(bc.where() + " env").contains("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY");
      assertThat(bc.flag("store")).as(bc.where() + " --store").contains("$(BUCKETDISK_STORE)");
    }));
  }

  // ---- sockets and paths

  @Test
  void controllerSidecarsShareTheDriverSocketAndElectALeader() {
    var pod = pod(m.one(V1Deployment.class, "bucketdisk-controller"));
    var driver = bucketdiskIn(pod);
    var socket = unixPath(driver.flag("endpoint").getFirst());
    assertThat(socket).isEqualTo("/csi/csi.sock");
    var volume = volumeAt(pod, driver.container(), parent(socket));
    var sidecars = pod.containers().stream().filter(c -> c != driver.container()).toList();
    assertThat(sidecars.stream().map(DeployManifestTest::sidecar).toList())
        .containsExactlyInAnyOrder("csi-provisioner", "csi-attacher", "csi-resizer", "csi-snapshotter", "livenessprobe");
    assertAll(sidecars.stream().map(c -> () -> {
      var address = argValue(c, "csi-address").orElseThrow(() -> new AssertionError(c.getName() + " has no --csi-address"));
      assertThat(address).as(c.getName() + " --csi-address").isEqualTo(socket);
      assertThat(volumeAt(pod, c, parent(address))).as(c.getName() + " mounts the driver's socket volume at " + parent(address))
          .isEqualTo(volume);
      if (CONTROLLER_SIDECARS.contains(sidecar(c))) {
        assertThat(c.getArgs()).as(c.getName() + " args").contains("--leader-election");
      }
    }));
  }

  @Test
  void nodePluginSocketRegistrationAndKubeletPaths() {
    var ds = m.one(V1DaemonSet.class, "bucketdisk-node");
    var pod = pod(ds);
    var spec = pod.template().getSpec();
    var driver = bucketdiskIn(pod);
    var socket = unixPath(driver.flag("endpoint").getFirst());
    var socketVolume = volumeAt(pod, driver.container(), parent(socket));
    var hostSocketDir = Objects.requireNonNull(socketVolume.getHostPath(), "socket volume is a hostPath").getPath();
    assertThat(hostSocketDir).as("plugin socket dir on the host").isEqualTo("/var/lib/kubelet/plugins/" + DRIVER);
    var hostSocket = hostSocketDir + "/" + Path.of(socket).getFileName();
    assertThat(hostSocket).isEqualTo("/var/lib/kubelet/plugins/csi.bucketdisk.io/csi.sock");

    var registrar = container(pod, "csi-node-driver-registrar");
    assertThat(argValue(registrar, "csi-address")).contains(socket);
    assertThat(volumeAt(pod, registrar, parent(socket))).isEqualTo(socketVolume);
    assertThat(argValue(registrar, "kubelet-registration-path")).as("registrar gives kubelet the host path").contains(hostSocket);
    assertThat(volumeAt(pod, registrar, "/registration").getHostPath().getPath()).isEqualTo("/var/lib/kubelet/plugins_registry");
    var liveness = container(pod, "livenessprobe");
    assertThat(argValue(liveness, "csi-address")).contains(socket);
    assertThat(volumeAt(pod, liveness, parent(socket))).isEqualTo(socketVolume);

    var dc = driver.container();
    assertThat(dc.getSecurityContext().getPrivileged()).as("node plugin privileged").isTrue();
    for (var dir : List.of("/var/lib/kubelet/pods", "/var/lib/kubelet/plugins")) {
      var mount = mountAt(dc, dir);
      assertThat(mount.getMountPropagation()).as(dir + " propagation").isEqualTo("Bidirectional");
      assertThat(pod.volume(mount.getName()).getHostPath().getPath()).as(dir + " host path").isEqualTo(dir);
    }
    assertThat(pod.volume(mountAt(dc, "/dev").getName()).getHostPath().getPath()).isEqualTo("/dev");
    var stateDir = driver.flag("state-dir").getFirst();
    assertThat(pod.volume(mountAt(dc, stateDir).getName()).getHostPath()).as("--state-dir survives restarts on a hostPath").isNotNull();
    assertThat(argValue(dc, "node-id")).contains("$(NODE_NAME)");
    assertThat(dc.getEnv().stream().filter(e -> e.getName().equals("NODE_NAME")).findFirst().orElseThrow()
        .getValueFrom().getFieldRef().getFieldPath()).isEqualTo("spec.nodeName");
    assertThat(spec.getHostNetwork()).as("node hostNetwork").isTrue();
    assertThat(ds.getSpec().getUpdateStrategy().getType()).as("node updateStrategy is chosen explicitly").isEqualTo("RollingUpdate");
  }

  @Test
  void gatewayAndNodePluginShareTheGatewaySocketsOnTheSameHostPath() {
    var nodePod = pod(m.one(V1DaemonSet.class, "bucketdisk-node"));
    var gwDs = m.one(V1DaemonSet.class, "bucketdisk-gateway");
    var gwPod = pod(gwDs);
    var node = bucketdiskIn(nodePod);
    var gw = bucketdiskIn(gwPod);

    var nbd = unixPath(node.flag("gateway").getFirst());
    assertThat(gw.flag("listen")).as("gateway --listen includes the node plugin's --gateway").contains("unix://" + nbd);
    var hostOnNode = nodePod.volume(mountAt(node.container(), parent(nbd)).getName()).getHostPath();
    var hostOnGateway = gwPod.volume(mountAt(gw.container(), parent(nbd)).getName()).getHostPath();
    assertThat(hostOnNode).as("node plugin's " + parent(nbd) + " is a hostPath").isNotNull();
    assertThat(hostOnGateway).as("gateway's " + parent(nbd) + " is a hostPath").isNotNull();
    assertThat(hostOnGateway.getPath()).as("same host directory").isEqualTo(hostOnNode.getPath());
    assertThat(hostOnNode.getPath()).isEqualTo("/run/bucketdisk");
    var control = unixPath(gw.flag("control").getFirst());
    assertThat(parent(control)).as("control socket in the shared directory").isEqualTo(parent(nbd));
    assertThat(node.flag("gateway-control")).as("node plugin's --gateway-control (ephemeral volumes) is the gateway's")
        .containsExactly("unix://" + control);

    // StoreWiring.gatewayId(): the lease owner id is $NODE_NAME, so each gateway is named after its node.
    assertThat(gw.container().getEnv().stream().filter(e -> e.getName().equals("NODE_NAME")).findFirst()
        .map(e -> e.getValueFrom().getFieldRef().getFieldPath())).as("gateway NODE_NAME").contains("spec.nodeName");
    assertThat(gwDs.getSpec().getUpdateStrategy().getType()).as("gateway updateStrategy (restarts stall I/O)").isEqualTo("OnDelete");

    // The controller runs on another node: the control API is also on TCP, declared, and advertised via $POD_IP.
    var tcpControl = gw.flag("control").stream().filter(c -> c.startsWith("tcp://")).toList();
    assertThat(tcpControl).as("gateway TCP --control").singleElement().asString().startsWith("tcp://0.0.0.0:");
    var controlPort = Integer.parseInt(tcpControl.getFirst().substring(tcpControl.getFirst().lastIndexOf(':') + 1));
    assertThat(controlPort).isEqualTo(9820);
    assertThat(ports(gw.container())).as("gateway declares its control port").containsEntry("control", controlPort);
    assertThat(gw.container().getEnv().stream().filter(e -> e.getName().equals("POD_IP")).findFirst()
        .map(e -> e.getValueFrom().getFieldRef().getFieldPath())).as("gateway POD_IP (advertised in leases)")
        .contains("status.podIP");
    assertThat(gwPod.template().getSpec().getTerminationGracePeriodSeconds()).as("time to flush on SIGTERM").isGreaterThanOrEqualTo(60L);
  }

  /**
   * Issue 11: no port that reads or writes a volume is open without authentication. NBD is node-local (Unix sockets
   * only); the one TCP control listener is mutual TLS with its certificate files on a mounted Secret, and the
   * controller that calls it has its own client certificate.
   */
  @Test
  void noPortThatReachesAVolumeIsOpenWithoutAuthentication() {
    var gwPod = pod(m.one(V1DaemonSet.class, "bucketdisk-gateway"));
    var gw = bucketdiskIn(gwPod);
    assertThat(gw.flag("listen")).as("gateway --listen: node-local Unix sockets only").isNotEmpty()
        .allSatisfy(l -> assertThat(l).startsWith("unix:///"));
    assertThat(ports(gw.container())).as("gateway declares no NBD port").doesNotContainKey("nbd")
        .doesNotContainValue(10809);
    assertAll(bucketdisk().map(bc -> () -> assertThat(bc.container().getArgs()).as(bc.where() + " args")
        .noneMatch(a -> a.startsWith("--insecure"))));
    var tcpControl = gw.flag("control").stream().filter(c -> !c.startsWith("unix://")).toList();
    if (!tcpControl.isEmpty()) {
      for (var flag : List.of("tls-cert", "tls-key", "tls-client-ca")) {
        var file = gw.flag(flag);
        assertThat(file).as("a TCP --control needs --" + flag).hasSize(1);
        var mount = mountAt(gw.container(), parent(file.getFirst()));
        assertThat(gwPod.volume(mount.getName()).getSecret()).as("--" + flag + " comes from a mounted Secret")
            .isNotNull();
      }
      var ctlPod = pod(m.one(V1Deployment.class, "bucketdisk-controller"));
      var ctl = bucketdiskIn(ctlPod);
      for (var flag : List.of("tls-cert", "tls-key", "tls-ca")) {
        var file = ctl.flag(flag);
        assertThat(file).as("the controller calls the TCP control API with --" + flag).hasSize(1);
        assertThat(ctlPod.volume(mountAt(ctl.container(), parent(file.getFirst())).getName()).getSecret())
            .as("controller --" + flag + " from a mounted Secret").isNotNull();
      }
    }
  }

  @Test
  void metricsFlagsMatchDeclaredPortsAndScrapeAnnotations() {
    assertThat(bucketdisk().filter(bc -> !bc.flag("metrics").isEmpty()).map(Bucketdisk::subcommand)).contains("controller", "gateway", "node");
    assertAll(bucketdisk().filter(bc -> !bc.flag("metrics").isEmpty()).map(bc -> () -> {
      var metrics = bc.flag("metrics").getFirst();
      var port = Integer.parseInt(metrics.substring(metrics.lastIndexOf(':') + 1));
      assertThat(port).as(bc.where() + " --metrics port").isEqualTo(METRICS_PORT.get(bc.subcommand()));
      assertThat(metrics).as(bc.where() + " listens beyond loopback").startsWith("0.0.0.0:");
      assertThat(ports(bc.container())).as(bc.where() + " ports").containsEntry("metrics", port);
      assertThat(bc.pod().template().getMetadata().getAnnotations()).as(bc.where() + " scrape annotations")
          .containsEntry("prometheus.io/port", String.valueOf(port)).containsEntry("prometheus.io/path", "/metrics");
    }));
  }

  @Test
  void hostNetworkPodsNeverBindTheSamePortTwice() {
    var hostPods = pods().filter(p -> Boolean.TRUE.equals(p.template().getSpec().getHostNetwork())).toList();
    assertThat(hostPods).hasSize(2);
    var byPort = new java.util.HashMap<Integer, String>();
    var checks = new ArrayList<org.junit.jupiter.api.function.Executable>();
    for (var p : hostPods) {
      // Within a pod a declared port may name a sidecar's listener (the healthz port on the driver container);
      // listeners given by flags must be distinct, and no port may be used by two pods on the same host.
      var flagged = new java.util.HashMap<Integer, String>();
      var podPorts = new HashSet<Integer>();
      for (var c : allContainers(p).toList()) {
        for (var port : flagPorts(c)) {
          var previous = flagged.putIfAbsent(port, c.getName());
          checks.add(() -> assertThat(previous).as(p.workload() + ": port " + port + " of " + c.getName() + " is also used by").isNull());
        }
        podPorts.addAll(flagPorts(c));
        podPorts.addAll(ports(c).values());
      }
      for (var port : podPorts) {
        var previous = byPort.putIfAbsent(port, p.workload());
        checks.add(() -> assertThat(previous).as("host port " + port + " of " + p.workload() + " is also used by").isNull());
      }
    }
    assertAll(checks);
  }

  @Test
  void livenessProbesPointAtTheirProbeEndpoints() {
    assertAll(pods().flatMap(p -> p.containers().stream().filter(c -> c.getLivenessProbe() != null
        && c.getLivenessProbe().getHttpGet() != null && "/healthz".equals(c.getLivenessProbe().getHttpGet().getPath())).map(c -> () -> {
          var where = p.workload() + " container " + c.getName() + " livenessProbe";
          var port = c.getLivenessProbe().getHttpGet().getPort();
          var number = port.isInteger() ? port.getIntValue() : ports(c).get(port.getStrValue());
          assertThat(number).as(where + " port " + port + " is declared on the container").isNotNull();
          // /healthz is served by the livenessprobe sidecar (Probe over the CSI socket), the registrar itself, or a
          // bucketdisk container on its own --metrics port (docs/metrics.md).
          var servers = p.containers().stream().filter(s -> Set.of("livenessprobe", "csi-node-driver-registrar").contains(sidecar(s))
                  && argValue(s, "http-endpoint").map(e -> e.endsWith(":" + number)).orElse(false)
                  || s == c && argValue(s, "metrics").map(e -> e.endsWith(":" + number)).orElse(false)).toList();
          assertThat(servers).as(where + ": one container serves /healthz on " + number).hasSize(1);
        })));
  }

  // ---- RBAC

  @Test
  void everyServiceAccountHasTheRbacItsSidecarsNeed() {
    assertAll(pods().map(p -> () -> {
      var spec = p.template().getSpec();
      var sa = spec.getServiceAccountName();
      assertThat(sa).as(p.workload() + " serviceAccountName (never the default account)").isNotBlank().isNotEqualTo("default");
      m.one(V1ServiceAccount.class, sa);
      var clusterRules = clusterRulesOf(sa);
      var namespaceRules = new ArrayList<>(clusterRules);
      namespaceRules.addAll(namespaceRulesOf(sa));
      var needsApi = false;
      for (var c : allContainers(p).toList()) {
        var sidecar = sidecar(c);
        var needs = !sidecar.equals("bucketdisk") ? SIDECAR_RBAC.get(sidecar)
            : c.getCommand() != null ? List.<Need>of() // a plain tool of the image (the gateway's chown step)
            : BUCKETDISK_RBAC.get(c.getArgs().getFirst());
        for (var need : needs) {
          needsApi = true;
          assertThat(covers(clusterRules, need)).as(p.workload() + " SA " + sa + " lets " + sidecar + " " + String.join(",", need.verbs())
              + " " + need.resource() + " (cluster-wide)").isTrue();
        }
        if (c.getArgs() != null && c.getArgs().contains("--leader-election")) {
          needsApi = true;
          assertThat(covers(namespaceRules, LEASES)).as(p.workload() + " SA " + sa + " lets " + sidecar + " use leases in " + NAMESPACE).isTrue();
        }
      }
      if (!needsApi) {
        assertThat(spec.getAutomountServiceAccountToken()).as(p.workload() + " needs no API token").isFalse();
      }
    }));
  }

  @Test
  void everyBindingPointsAtAnExistingRoleAndServiceAccount() {
    var bindings = new ArrayList<Map.Entry<String, io.kubernetes.client.openapi.models.RbacV1Subject>>();
    m.all(V1ClusterRoleBinding.class).forEach(b -> {
      m.one(V1ClusterRole.class, b.getRoleRef().getName());
      b.getSubjects().forEach(s -> bindings.add(Map.entry("ClusterRoleBinding " + b.getMetadata().getName(), s)));
    });
    m.all(V1RoleBinding.class).forEach(b -> {
      if (b.getRoleRef().getKind().equals("Role")) {
        assertThat(m.one(V1Role.class, b.getRoleRef().getName()).getMetadata().getNamespace()).isEqualTo(b.getMetadata().getNamespace());
      } else {
        m.one(V1ClusterRole.class, b.getRoleRef().getName());
      }
      b.getSubjects().forEach(s -> bindings.add(Map.entry("RoleBinding " + b.getMetadata().getName(), s)));
    });
    assertThat(bindings).isNotEmpty();
    assertAll(bindings.stream().map(e -> () -> {
      var s = e.getValue();
      assertThat(s.getKind()).as(e.getKey() + " subject kind").isEqualTo("ServiceAccount");
      assertThat(s.getNamespace()).as(e.getKey() + " subject namespace").isEqualTo(NAMESPACE);
      m.one(V1ServiceAccount.class, s.getName());
    }));
  }

  // ---- workload sanity

  @Test
  void selectorsMatchTemplateLabels() {
    var checks = new ArrayList<org.junit.jupiter.api.function.Executable>();
    for (var d : m.all(V1Deployment.class)) {
      checks.add(() -> assertThat(d.getSpec().getTemplate().getMetadata().getLabels()).as(d.getMetadata().getName())
          .containsAllEntriesOf(d.getSpec().getSelector().getMatchLabels()));
    }
    for (var d : m.all(V1DaemonSet.class)) {
      checks.add(() -> assertThat(d.getSpec().getTemplate().getMetadata().getLabels()).as(d.getMetadata().getName())
          .containsAllEntriesOf(d.getSpec().getSelector().getMatchLabels()));
    }
    assertAll(checks);
    var selectors = Stream.concat(m.all(V1Deployment.class).stream().map(d -> d.getSpec().getSelector().getMatchLabels()),
        m.all(V1DaemonSet.class).stream().map(d -> d.getSpec().getSelector().getMatchLabels())).toList();
    assertThat(selectors).as("workload selectors do not overlap").doesNotHaveDuplicates();
  }

  @Test
  void everyMountHasAVolumeAndJvmContainersHaveWritableTmp() {
    assertAll(pods().flatMap(p -> allContainers(p).map(c -> () -> {
      var names = p.template().getSpec().getVolumes().stream().map(V1Volume::getName).toList();
      for (var mount : Optional.ofNullable(c.getVolumeMounts()).orElse(List.of())) {
        assertThat(names).as(p.workload() + "/" + c.getName() + " mount " + mount.getMountPath()).contains(mount.getName());
      }
      if (sidecar(c).equals("bucketdisk") && c.getCommand() == null && c.getSecurityContext() != null
          && Boolean.TRUE.equals(c.getSecurityContext().getReadOnlyRootFilesystem())) {
        assertThat(mountAt(c, "/tmp")).as(p.workload() + " JVM with read-only root has /tmp").isNotNull();
      }
    })));
  }

  @Test
  void controllerRunsAsNonRoot() {
    var pod = pod(m.one(V1Deployment.class, "bucketdisk-controller"));
    var sc = pod.template().getSpec().getSecurityContext();
    assertThat(sc.getRunAsNonRoot()).isTrue();
    assertThat(sc.getRunAsUser()).isNotZero();
    assertThat(pod.containers()).allSatisfy(c -> assertThat(c.getSecurityContext().getPrivileged()).as(c.getName()).isNotEqualTo(true));
  }

  @Test
  void theGatewayRunsAsNonRootAndItsMemoryLimitHoldsTheHeapTheLauncherGivesIt() {
    var pod = pod(m.one(V1DaemonSet.class, "bucketdisk-gateway"));
    var gw = bucketdiskIn(pod).container();
    assertThat(gw.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(gw.getSecurityContext().getRunAsUser()).isEqualTo(65532L);
    var init = pod.template().getSpec().getInitContainers();
    assertThat(init).as("the one root step hands /run/bucketdisk to the gateway's user").singleElement()
        .satisfies(c -> {
          assertThat(c.getCommand()).containsExactly("chown", "-R", "65532:65532", "/run/bucketdisk");
          assertThat(c.getSecurityContext().getCapabilities().getAdd()).containsExactly("CHOWN");
        });
    // the launcher's rule (LauncherTest runs it): heap = cache + 80 MiB; the rest of the
    // JVM measured ~150 MiB (bench/memory-flags.sh, docs/cache.md#memory), so the limit holds heap + 192 MiB
    String cacheArg = gw.getArgs().stream().filter(a -> a.startsWith("--cache-size=")).findFirst().orElseThrow();
    long cache = new Quantity(cacheArg.substring("--cache-size=".length())).getNumber().longValueExact();
    long heap = cache + (80L << 20);
    long limit = gw.getResources().getLimits().get("memory").getNumber().longValueExact();
    assertThat(limit).as("memory limit vs heap %d MiB + 192 MiB", heap >> 20).isGreaterThanOrEqualTo(heap + (192L << 20));
    assertThat(limit).as("memory limit vs cache %d MiB + 256 MiB + 64 MiB of margin (issue 10)", cache >> 20)
        .isLessThanOrEqualTo(cache + (320L << 20));
    assertThat(Optional.ofNullable(gw.getEnv()).orElse(List.of())).as("no heap flag overriding the launcher's")
        .noneMatch(e -> e.getName().equals("JAVA_TOOL_OPTIONS") || e.getName().equals("BUCKETDISK_JAVA_OPTS"));
  }

  @Test
  void dockerfileBuildsTheLauncherTheManifestsRun() throws IOException {
    var dockerfile = Files.readString(Path.of("Dockerfile"));
    assertThat(dockerfile).contains("FROM eclipse-temurin:25-jdk AS build", "FROM debian:bookworm-slim", "jlink",
        "./mvnw", "e2fsprogs", "xfsprogs", "util-linux", "deploy/bucketdisk.sh",
        "ENTRYPOINT [\"/usr/local/bin/bucketdisk\"]", "USER 65532");
    assertThat(Files.readString(Path.of("bucketdisk.sh"))).contains("io.bucketdisk.app.Main");
    assertThat(dockerfile).doesNotContain(":latest");
    assertThat(bucketdisk()).as("pods use the image's entrypoint")
        .allSatisfy(bc -> assertThat(bc.container().getCommand()).as(bc.where() + " command").isNullOrEmpty());
  }

  // ---- helpers

  /** A bucketdisk container in a pod, with its subcommand and flags. */
  record Bucketdisk(Pod pod, V1Container container) {
    String subcommand() {
      return container.getArgs().getFirst();
    }

    String where() {
      return pod.workload() + " (bucketdisk " + subcommand() + ")";
    }

    List<String> flag(String name) {
      return container.getArgs().stream().filter(a -> a.startsWith("--" + name + "="))
          .map(a -> a.substring(name.length() + 3)).toList();
    }
  }

  static Stream<Pod> pods() {
    return Stream.concat(
        m.all(V1Deployment.class).stream().map(DeployManifestTest::pod),
        m.all(V1DaemonSet.class).stream().map(DeployManifestTest::pod));
  }

  static Pod pod(KubernetesObject workload) {
    var template = switch (workload) {
      case V1Deployment d -> d.getSpec().getTemplate();
      case V1DaemonSet d -> d.getSpec().getTemplate();
      default -> throw new IllegalArgumentException(workload.getKind());
    };
    return new Pod(workload.getKind() + " " + workload.getMetadata().getName(), template);
  }

  static Stream<V1Container> allContainers(Pod p) {
    return Stream.concat(p.containers().stream(),
        Optional.ofNullable(p.template().getSpec().getInitContainers()).orElse(List.of()).stream());
  }

  static Stream<Bucketdisk> bucketdisk() {
    return pods().flatMap(p -> p.containers().stream().filter(c -> sidecar(c).equals("bucketdisk")).map(c -> new Bucketdisk(p, c)));
  }

  static Bucketdisk bucketdiskIn(Pod pod) {
    var list = pod.containers().stream().filter(c -> sidecar(c).equals("bucketdisk")).toList();
    assertThat(list).as(pod.workload() + " bucketdisk containers").hasSize(1);
    return new Bucketdisk(pod, list.getFirst());
  }

  /** The image's last path element without the tag: "csi-provisioner", "livenessprobe", "bucketdisk". */
  static String sidecar(V1Container c) {
    var image = c.getImage();
    var noTag = image.substring(0, image.lastIndexOf(':') > image.lastIndexOf('/') ? image.lastIndexOf(':') : image.length());
    return noTag.substring(noTag.lastIndexOf('/') + 1);
  }

  static V1Container container(Pod pod, String sidecar) {
    return pod.containers().stream().filter(c -> sidecar(c).equals(sidecar)).findFirst()
        .orElseThrow(() -> new AssertionError(pod.workload() + " has no " + sidecar + " container"));
  }

  static Optional<String> argValue(V1Container c, String flag) {
    return Optional.ofNullable(c.getArgs()).orElse(List.of()).stream().filter(a -> a.startsWith("--" + flag + "="))
        .map(a -> a.substring(flag.length() + 3)).findFirst();
  }

  static String unixPath(String endpoint) {
    assertThat(endpoint).as("endpoint").startsWith("unix:///");
    return endpoint.substring("unix://".length());
  }

  static String parent(String path) {
    return Objects.requireNonNull(Path.of(path).getParent()).toString();
  }

  static V1VolumeMount mountAt(V1Container c, String path) {
    return Optional.ofNullable(c.getVolumeMounts()).orElse(List.of()).stream().filter(v -> v.getMountPath().equals(path)).findFirst()
        .orElseThrow(() -> new AssertionError(c.getName() + " mounts nothing at " + path));
  }

  static V1Volume volumeAt(Pod pod, V1Container c, String path) {
    return pod.volume(mountAt(c, path).getName());
  }

  static Map<String, Integer> ports(V1Container c) {
    var out = new java.util.HashMap<String, Integer>();
    Optional.ofNullable(c.getPorts()).orElse(List.of()).forEach(p -> out.put(Objects.requireNonNullElse(p.getName(), ""), p.getContainerPort()));
    return out;
  }

  /** Ports a container listens on according to its --http-endpoint / --metrics / --listen / --control flags. */
  static Set<Integer> flagPorts(V1Container c) {
    var out = new HashSet<Integer>();
    for (var arg : Optional.ofNullable(c.getArgs()).orElse(List.of())) {
      var match = Pattern.compile("^--(http-endpoint|metrics|listen|health-port|control)=(?!unix:).*?:?(\\d+)$").matcher(arg);
      if (match.find()) {
        out.add(Integer.parseInt(match.group(2)));
      }
    }
    return out;
  }

  static List<V1PolicyRule> clusterRulesOf(String sa) {
    var rules = new ArrayList<V1PolicyRule>();
    for (var b : m.all(V1ClusterRoleBinding.class)) {
      if (b.getSubjects().stream().anyMatch(s -> sa.equals(s.getName()) && NAMESPACE.equals(s.getNamespace()))) {
        rules.addAll(m.one(V1ClusterRole.class, b.getRoleRef().getName()).getRules());
      }
    }
    return rules;
  }

  static List<V1PolicyRule> namespaceRulesOf(String sa) {
    var rules = new ArrayList<V1PolicyRule>();
    for (var b : m.all(V1RoleBinding.class)) {
      if (NAMESPACE.equals(b.getMetadata().getNamespace())
          && b.getSubjects().stream().anyMatch(s -> sa.equals(s.getName()) && NAMESPACE.equals(s.getNamespace()))) {
        rules.addAll(b.getRoleRef().getKind().equals("Role")
            ? m.one(V1Role.class, b.getRoleRef().getName()).getRules()
            : m.one(V1ClusterRole.class, b.getRoleRef().getName()).getRules());
      }
    }
    return rules;
  }

  static boolean covers(List<V1PolicyRule> rules, Need need) {
    for (var verb : need.verbs()) {
      var allowed = rules.stream().anyMatch(r -> matches(r.getApiGroups(), need.group()) && matches(r.getResources(), need.resource())
          && matches(r.getVerbs(), verb));
      if (!allowed) {
        return false;
      }
    }
    return true;
  }

  private static boolean matches(@Nullable List<String> list, String value) {
    return list != null && (list.contains(value) || list.contains("*"));
  }
}
