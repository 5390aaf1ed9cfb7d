package io.bucketdisk.e2e.k3s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.exception.NotFoundException;
import io.kubernetes.client.custom.Quantity;
import io.kubernetes.client.custom.V1Patch;
import io.kubernetes.client.openapi.ApiClient;
import io.kubernetes.client.openapi.ApiException;
import io.kubernetes.client.openapi.apis.AppsV1Api;
import io.kubernetes.client.openapi.apis.CoreV1Api;
import io.kubernetes.client.openapi.apis.StorageV1Api;
import io.kubernetes.client.openapi.models.V1CSIVolumeSource;
import io.kubernetes.client.openapi.models.V1Container;
import io.kubernetes.client.openapi.models.V1ObjectMeta;
import io.kubernetes.client.openapi.models.V1PersistentVolumeClaim;
import io.kubernetes.client.openapi.models.V1PersistentVolumeClaimSpec;
import io.kubernetes.client.openapi.models.V1PersistentVolumeClaimVolumeSource;
import io.kubernetes.client.openapi.models.V1Pod;
import io.kubernetes.client.openapi.models.V1PodSpec;
import io.kubernetes.client.openapi.models.V1TypedObjectReference;
import io.kubernetes.client.openapi.models.V1Volume;
import io.kubernetes.client.openapi.models.V1VolumeDevice;
import io.kubernetes.client.openapi.models.V1VolumeMount;
import io.kubernetes.client.openapi.models.V1VolumeResourceRequirements;
import io.kubernetes.client.util.Config;
import io.kubernetes.client.util.PatchUtils;
import io.kubernetes.client.util.generic.dynamic.DynamicKubernetesApi;
import java.io.IOException;
import java.io.StringReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.k3s.K3sContainer;
import org.testcontainers.utility.DockerImageName;
import org.testcontainers.utility.MountableFile;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The whole driver on a real Kubernetes: k3s in Docker (Testcontainers), the manifests of
 * {@code deploy/kubernetes} installed with the Kubernetes Java client, and an S3 server (s3proxy) in this JVM
 * that the pods reach over the Docker bridge. Then what a user does: a PVC and a pod that writes and reads it,
 * a VolumeSnapshot and a PVC restored from it, an online expansion, a raw block volume, deletion of it all
 * (the volumes' objects must be gone from the bucket), and a pod with an ephemeral inline {@code csi:} volume whose
 * objects must be gone once the pod is.
 *
 * <p>Needs, and skips with the reason when absent: a Docker engine that runs privileged containers; the
 * {@code nbd} kernel module loaded on the Docker host ({@code sudo modprobe nbd}); the bucketdisk image built
 * locally ({@code docker build -f deploy/Dockerfile -t ghcr.io/bucketdisk/bucketdisk:0.1.0 .}, or name another
 * with {@code -Dbucketdisk.image=}); network access to pull rancher/k3s, the CSI sidecars, the snapshot
 * controller and busybox. See docs/kubernetes.md "Running the k3s test".
 */
@Tag("k3s")
@Testcontainers(disabledWithoutDocker = true)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 15, unit = TimeUnit.MINUTES)
final class K3sLifecycleIT {
  private static final Logger log = LoggerFactory.getLogger(K3sLifecycleIT.class);

  static final String NS = "bucketdisk";
  static final String APP_NS = "default";
  static final String DRIVER = "csi.bucketdisk.io";
  static final String DEFAULT_IMAGE = "ghcr.io/bucketdisk/bucketdisk:0.1.0";
  static final String K3S_IMAGE = System.getProperty("bucketdisk.k3s.image", "rancher/k3s:v1.34.1-k3s1");
  static final String SNAPSHOTTER = "v8.6.0";
  static final String SNAPSHOTTER_RAW = "https://raw.githubusercontent.com/kubernetes-csi/external-snapshotter/" + SNAPSHOTTER + "/";
  static final String BUSYBOX = "busybox:1.36.1";
  static final String BUCKET = "bucketdisk-k3s";
  /** The store's prefix inside the bucket (the path of the store URL), with the store's trailing slash. */
  static final String PREFIX = "k3s/";
  static final String ACCESS = "k3s-access";
  static final String SECRET = "k3s-secret-" + UUID.randomUUID();

  static @Nullable K3sContainer k3s;
  static @Nullable S3Proxy s3;
  static @Nullable S3Client s3Client;
  static @Nullable Path s3Dir;
  static ApiClient client;
  static CoreV1Api core;

  @BeforeAll
  static void startCluster() throws Exception {
    assumeTrue(Files.isDirectory(Path.of("/sys/module/nbd")),
        "the nbd kernel module is not loaded on this host (run `sudo modprobe nbd`): the node plugin cannot attach volumes");
    var image = System.getProperty("bucketdisk.image", DEFAULT_IMAGE);
    var docker = DockerClientFactory.instance().client();
    try {
      docker.inspectImageCmd(image).exec();
    } catch (NotFoundException e) {
      assumeTrue(false, "the bucketdisk image " + image + " is not in the local Docker engine; build it first: "
          + "docker build -f deploy/Dockerfile -t " + image + " .");
    }
    var root = repositoryRoot();

    s3Dir = Files.createTempDirectory("bucketdisk-k3s-s3");
    s3 = S3Proxy.builder().blobStore(new FilesystemNio2BlobStore(s3Dir.toString()))
        .endpoint(URI.create("http://0.0.0.0:0")).awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS, SECRET).build();
    s3.start();
    waitFor("s3proxy started", Duration.ofSeconds(30), () -> "STARTED".equals(s3.getState()));
    s3Client = S3Client.builder().endpointOverride(URI.create("http://127.0.0.1:" + s3.getPort())).region(Region.US_EAST_1)
        .forcePathStyle(true).credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS, SECRET)))
        .httpClient(UrlConnectionHttpClient.create()).build();
    s3Client.createBucket(b -> b.bucket(BUCKET));

    // Bidirectional mount propagation needs /var/lib/kubelet on a shared mount, which a Docker container's root
    // is not: make it shared before k3s starts. /lib/modules lets the node plugin's modprobe see the host's.
    var cluster = new K3sContainer(DockerImageName.parse(K3S_IMAGE).asCompatibleSubstituteFor("rancher/k3s"))
        .withFileSystemBind("/lib/modules", "/lib/modules", org.testcontainers.containers.BindMode.READ_ONLY)
        .withCreateContainerCmdModifier(cmd -> cmd.withEntrypoint("/bin/sh", "-c",
            "mount --make-rshared / && exec /bin/k3s \"$0\" \"$@\""))
        .withStartupTimeout(Duration.ofMinutes(4));
    k3s = cluster;
    cluster.start();
    loadImage(cluster, image);

    client = Config.fromConfig(new StringReader(cluster.getKubeConfigYaml()));
    client.setReadTimeout(60_000);
    core = new CoreV1Api(client);

    var hostFromPods = cluster.getContainerInfo().getNetworkSettings().getNetworks().values().iterator().next().getGateway();
    var store = "s3://" + BUCKET + "/" + PREFIX.substring(0, PREFIX.length() - 1) + "?endpoint=http://" + hostFromPods + ":" + s3.getPort() + "&region=us-east-1&path-style=true"
        + "&accept-unfenced=true"; // s3proxy: conditional writes not atomic
    log.info("store for the pods: {}", store);

    var applier = new ManifestApplier(client);
    applier.create(ManifestApplier.documents(fetch(SNAPSHOTTER_RAW + "client/config/crd/snapshot.storage.k8s.io_volumesnapshotclasses.yaml")));
    applier.create(ManifestApplier.documents(fetch(SNAPSHOTTER_RAW + "client/config/crd/snapshot.storage.k8s.io_volumesnapshotcontents.yaml")));
    applier.create(ManifestApplier.documents(fetch(SNAPSHOTTER_RAW + "client/config/crd/snapshot.storage.k8s.io_volumesnapshots.yaml")));
    for (var file : List.of("rbac-snapshot-controller.yaml", "setup-snapshot-controller.yaml")) {
      var docs = ManifestApplier.documents(fetch(SNAPSHOTTER_RAW + "deploy/kubernetes/snapshot-controller/" + file));
      for (var doc : docs) {
        inKubeSystem(doc);
      }
      applier.create(docs);
    }

    var docs = ManifestApplier.kustomizeBase(root.resolve("deploy/kubernetes"), text -> text.replace(DEFAULT_IMAGE, image));
    for (var doc : docs) {
      configure(doc, store);
    }
    applier.create(docs);

    var apps = new AppsV1Api(client);
    waitFor("controller Deployment available", Duration.ofMinutes(5), () -> {
      var status = apps.readNamespacedDeployment("bucketdisk-controller", NS).execute().getStatus();
      return status != null && status.getAvailableReplicas() != null && status.getAvailableReplicas() >= 1;
    });
    for (var ds : List.of("bucketdisk-gateway", "bucketdisk-node")) {
      waitFor(ds + " ready on every node", Duration.ofMinutes(5), () -> {
        var status = apps.readNamespacedDaemonSet(ds, NS).execute().getStatus();
        return status != null && status.getDesiredNumberScheduled() > 0 && status.getNumberReady() == status.getDesiredNumberScheduled();
      });
    }
    waitFor("CSINode lists " + DRIVER, Duration.ofMinutes(2), () -> new StorageV1Api(client).listCSINode().execute().getItems().stream()
        .anyMatch(n -> n.getSpec().getDrivers().stream().anyMatch(d -> DRIVER.equals(d.getName()))));
  }

  @AfterAll
  static void stopCluster() throws Exception {
    if (k3s != null) {
      k3s.stop();
    }
    if (s3Client != null) {
      s3Client.close();
    }
    if (s3 != null) {
      s3.stop();
    }
  }

  @Test
  @Order(1)
  void filesystemVolumeWriteReadSnapshotRestoreExpandDelete() throws Exception {
    try {
      var token = UUID.randomUUID().toString();
      createPvc("data", "bucketdisk-ext4", "1Gi", "Filesystem", null);
      var log1 = runPod("writer", "data", "echo " + token + " > /data/token && sync && cat /data/token");
      assertThat(log1.strip()).as("writer pod reads back what it wrote").isEqualTo(token);
      var log2 = runPod("reader", "data", "cat /data/token");
      assertThat(log2.strip()).as("a new pod, after the volume was detached and attached again, reads the data").isEqualTo(token);
      var handle = volumeHandle("data");

      var snapshots = new DynamicKubernetesApi("snapshot.storage.k8s.io", "v1", "volumesnapshots", client);
      var snapshot = ManifestApplier.documents("""
          apiVersion: snapshot.storage.k8s.io/v1
          kind: VolumeSnapshot
          metadata: {name: data-snap, namespace: default}
          spec:
            volumeSnapshotClassName: bucketdisk-snapshot
            source: {persistentVolumeClaimName: data}
          """).getFirst();
      new ManifestApplier(client).create(snapshot);
      waitFor("VolumeSnapshot readyToUse", Duration.ofMinutes(3), () -> {
        var s = snapshots.get(APP_NS, "data-snap");
        if (!s.isSuccess()) {
          return false;
        }
        var status = s.getObject().getRaw().getAsJsonObject("status");
        return status != null && status.has("readyToUse") && status.get("readyToUse").getAsBoolean();
      });

      var after = UUID.randomUUID().toString();
      runPod("overwriter", "data", "echo " + after + " > /data/token && sync");
      createPvc("restored", "bucketdisk-ext4", "1Gi", "Filesystem", "data-snap");
      var log3 = runPod("restore-reader", "restored", "cat /data/token");
      assertThat(log3.strip()).as("the restored volume has the data of the snapshot, not what was written after").isEqualTo(token);

      PatchUtils.patch(V1PersistentVolumeClaim.class,
          () -> core.patchNamespacedPersistentVolumeClaim("data", APP_NS,
              new V1Patch("{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"2Gi\"}}}}")).buildCall(null),
          V1Patch.PATCH_FORMAT_JSON_MERGE_PATCH, client);
      // ControllerExpandVolume first (the PV grows), then NodeExpandVolume when a pod mounts it (the PVC grows).
      waitFor("PersistentVolume grown to 2Gi", Duration.ofMinutes(3), () -> {
        var pv = core.readNamespacedPersistentVolumeClaim("data", APP_NS).execute().getSpec().getVolumeName();
        return core.readPersistentVolume(pv).execute().getSpec().getCapacity().get("storage").getNumber().longValue() == 2L << 30;
      });
      var df = runPod("expanded", "data", "cat /data/token && df -k /data | tail -n 1");
      assertThat(df).as("data survives the expansion").startsWith(after);
      waitFor("PVC capacity 2Gi", Duration.ofMinutes(3), () -> {
        var status = core.readNamespacedPersistentVolumeClaim("data", APP_NS).execute().getStatus();
        return status != null && status.getCapacity() != null
            && status.getCapacity().get("storage").getNumber().longValue() == 2L << 30;
      });
      var kib = Long.parseLong(df.lines().reduce((a, b) -> b).orElseThrow().trim().split("\\s+")[1]);
      assertThat(kib).as("filesystem size after expansion, KiB").isGreaterThan(3L << 19);

      snapshots.delete(APP_NS, "data-snap");
      deletePvc("restored");
      deletePvc("data");
      waitFor("PersistentVolumes of the driver deleted", Duration.ofMinutes(3), () -> core.listPersistentVolume().execute().getItems()
          .stream().noneMatch(pv -> pv.getSpec().getCsi() != null && DRIVER.equals(pv.getSpec().getCsi().getDriver())));
      waitFor("VolumeAttachments released", Duration.ofMinutes(2), () -> new StorageV1Api(client).listVolumeAttachment().execute()
          .getItems().stream().noneMatch(va -> DRIVER.equals(va.getSpec().getAttacher())));
      waitFor("no object of volume " + handle + " left in the bucket", Duration.ofMinutes(2), () -> s3Client
          .listObjectsV2(b -> b.bucket(BUCKET)).contents().stream().noneMatch(o -> o.key().contains(handle)));
    } catch (Throwable t) {
      diagnostics();
      throw t;
    }
  }

  @Test
  @Order(2)
  void rawBlockVolumeKeepsBytesAcrossPods() throws Exception {
    try {
      var token = UUID.randomUUID().toString();
      createPvc("raw", "bucketdisk-block", "256Mi", "Block", null);
      runPod("raw-writer", "raw", "printf %s " + token + " | dd of=/dev/xvda bs=4096 conv=sync,fsync 2>/dev/null");
      var read = runPod("raw-reader", "raw", "dd if=/dev/xvda bs=36 count=1 2>/dev/null");
      assertThat(read.strip()).as("bytes written to the raw device by one pod, read by the next").isEqualTo(token);
      deletePvc("raw");
      waitFor("raw PersistentVolume deleted", Duration.ofMinutes(3), () -> core.listPersistentVolume().execute().getItems()
          .stream().noneMatch(pv -> pv.getSpec().getCsi() != null && DRIVER.equals(pv.getSpec().getCsi().getDriver())));
    } catch (Throwable t) {
      diagnostics();
      throw t;
    }
  }

  @Test
  @Order(3)
  void inlineEphemeralVolumeIsCreatedForThePodAndDeletedWithIt() throws Exception {
    var pod = "inline-scratch";
    try {
      var token = UUID.randomUUID().toString();
      var container = new V1Container().name("c").image(BUSYBOX)
          .command(List.of("sh", "-c", "echo " + token + " > /scratch/token && sync && cat /scratch/token && sleep 3600"))
          .volumeMounts(List.of(new V1VolumeMount().name("scratch").mountPath("/scratch")));
      var volume = new V1Volume().name("scratch").csi(new V1CSIVolumeSource().driver(DRIVER).fsType("ext4")
          .volumeAttributes(Map.of("size", "64Mi")));
      core.createNamespacedPod(APP_NS, new V1Pod().metadata(new V1ObjectMeta().name(pod)).spec(new V1PodSpec()
          .restartPolicy("Never").terminationGracePeriodSeconds(1L).containers(List.of(container)).volumes(List.of(volume))))
          .execute();
      waitFor("pod " + pod + " wrote and read its inline volume", Duration.ofMinutes(4), () -> {
        var phase = core.readNamespacedPod(pod, APP_NS).execute().getStatus().getPhase();
        if ("Failed".equals(phase) || "Succeeded".equals(phase)) {
          throw new AssertionError("pod " + pod + " ended (" + phase + ") instead of sleeping: "
              + core.readNamespacedPodLog(pod, APP_NS).execute());
        }
        var out = "Running".equals(phase) ? core.readNamespacedPodLog(pod, APP_NS).execute() : null;
        return out != null && out.strip().equals(token);
      });

      // The node created the volume through its gateway: a manifest marked ephemeral, recording the pod.
      var id = new String[1];
      waitFor("manifest of the inline volume of pod " + pod + " in the bucket", Duration.ofMinutes(1), () -> {
        for (var o : s3Client.listObjectsV2(b -> b.bucket(BUCKET).prefix(PREFIX + "manifests/")).contents()) {
          var manifest = new ObjectMapper().readTree(s3Client.getObjectAsBytes(b -> b.bucket(BUCKET).key(o.key())).asByteArray());
          var parameters = manifest.path("parameters");
          if ("true".equals(parameters.path("csi.ephemeral").asText())
              && pod.equals(parameters.path("csi.storage.k8s.io/pod.name").asText())
              && APP_NS.equals(parameters.path("csi.storage.k8s.io/pod.namespace").asText())) {
            assertThat(manifest.path("sizeBytes").asLong()).as("size from volumeAttributes").isEqualTo(64L << 20);
            assertThat(parameters.path("csi.name").asText()).as("kubelet's volume handle").startsWith("csi-");
            id[0] = manifest.path("id").asText();
            return true;
          }
        }
        return false;
      });
      var volumeId = id[0];
      log.info("inline volume of pod {}: {}", pod, volumeId);
      assertThat(s3Client.listObjectsV2(b -> b.bucket(BUCKET).prefix(PREFIX + "volumes/" + volumeId + "/")).contents())
          .as("chunks or write-log segments of the inline volume stored in the bucket after the pod's sync (FLUSH)")
          .anyMatch(o -> o.key().contains("/chunks/") || o.key().contains("/log/"));
      assertThat(core.listPersistentVolume().execute().getItems()).as("an inline volume has no PersistentVolume")
          .noneMatch(pv -> pv.getSpec().getCsi() != null && volumeId.equals(pv.getSpec().getCsi().getVolumeHandle()));

      core.deleteNamespacedPod(pod, APP_NS).execute();
      waitFor("pod " + pod + " deleted", Duration.ofMinutes(2), () -> core.listNamespacedPod(APP_NS).execute().getItems().stream()
          .noneMatch(p -> pod.equals(p.getMetadata().getName())));
      // NodeUnpublishVolume: unmount, detach, DeleteEphemeralVolume on the gateway (manifest and chunks).
      waitFor("no object of inline volume " + volumeId + " left in the bucket", Duration.ofMinutes(3), () -> s3Client
          .listObjectsV2(r -> r.bucket(BUCKET).prefix(PREFIX + "manifests/" + volumeId)).contents().stream()
          .noneMatch(o -> o.key().equals(PREFIX + "manifests/" + volumeId))
          && s3Client.listObjectsV2(r -> r.bucket(BUCKET).prefix(PREFIX + "volumes/" + volumeId + "/")).contents().isEmpty());
    } catch (Throwable t) {
      diagnostics();
      throw t;
    }
  }

  // ---- cluster helpers

  static void createPvc(String name, String storageClass, String size, String mode, @Nullable String fromSnapshot) throws Exception {
    var spec = new V1PersistentVolumeClaimSpec().storageClassName(storageClass).accessModes(List.of("ReadWriteOnce"))
        .volumeMode(mode).resources(new V1VolumeResourceRequirements().requests(Map.of("storage", Quantity.fromString(size))));
    if (fromSnapshot != null) {
      spec.dataSourceRef(new V1TypedObjectReference().apiGroup("snapshot.storage.k8s.io").kind("VolumeSnapshot").name(fromSnapshot));
    }
    core.createNamespacedPersistentVolumeClaim(APP_NS, new V1PersistentVolumeClaim().metadata(new V1ObjectMeta().name(name)).spec(spec))
        .execute();
    waitFor("PVC " + name + " bound", Duration.ofMinutes(3),
        () -> "Bound".equals(core.readNamespacedPersistentVolumeClaim(name, APP_NS).execute().getStatus().getPhase()));
  }

  static void deletePvc(String name) throws ApiException {
    core.deleteNamespacedPersistentVolumeClaim(name, APP_NS).execute();
  }

  static String volumeHandle(String pvc) throws ApiException {
    var pv = core.readNamespacedPersistentVolumeClaim(pvc, APP_NS).execute().getSpec().getVolumeName();
    return core.readPersistentVolume(pv).execute().getSpec().getCsi().getVolumeHandle();
  }

  /** Runs a busybox pod with the PVC at /data (filesystem) or /dev/xvda (block) to completion; returns its log. */
  static String runPod(String name, String pvc, String script) throws Exception {
    var block = "Block".equals(core.readNamespacedPersistentVolumeClaim(pvc, APP_NS).execute().getSpec().getVolumeMode());
    var container = new V1Container().name("c").image(BUSYBOX).command(List.of("sh", "-c", script));
    if (block) {
      container.volumeDevices(List.of(new V1VolumeDevice().name("v").devicePath("/dev/xvda")));
    } else {
      container.volumeMounts(List.of(new V1VolumeMount().name("v").mountPath("/data")));
    }
    var pod = new V1Pod().metadata(new V1ObjectMeta().name(name)).spec(new V1PodSpec().restartPolicy("Never")
        .containers(List.of(container))
        .volumes(List.of(new V1Volume().name("v").persistentVolumeClaim(new V1PersistentVolumeClaimVolumeSource().claimName(pvc)))));
    core.createNamespacedPod(APP_NS, pod).execute();
    waitFor("pod " + name + " finished", Duration.ofMinutes(4), () -> {
      var phase = core.readNamespacedPod(name, APP_NS).execute().getStatus().getPhase();
      if ("Failed".equals(phase)) {
        throw new AssertionError("pod " + name + " failed: " + core.readNamespacedPodLog(name, APP_NS).execute());
      }
      return "Succeeded".equals(phase);
    });
    var out = core.readNamespacedPodLog(name, APP_NS).execute();
    core.deleteNamespacedPod(name, APP_NS).gracePeriodSeconds(0).execute();
    waitFor("pod " + name + " deleted", Duration.ofMinutes(2), () -> core.listNamespacedPod(APP_NS).execute().getItems().stream()
        .noneMatch(p -> name.equals(p.getMetadata().getName())));
    return out == null ? "" : out;
  }

  /** Logs what an operator would look at first: pods, their states, the last lines of the driver's logs. */
  static void diagnostics() {
    try {
      for (var ns : List.of(NS, APP_NS, "kube-system")) {
        for (var pod : core.listNamespacedPod(ns).execute().getItems()) {
          log.error("pod {}/{} phase={} statuses={}", ns, pod.getMetadata().getName(), pod.getStatus().getPhase(),
              pod.getStatus().getContainerStatuses());
          if (ns.equals(NS)) {
            for (var c : pod.getSpec().getContainers()) {
              var text = core.readNamespacedPodLog(pod.getMetadata().getName(), ns).container(c.getName()).tailLines(40).execute();
              log.error("--- {}/{} logs:\n{}", pod.getMetadata().getName(), c.getName(), text);
            }
          }
        }
      }
      for (var event : core.listNamespacedEvent(APP_NS).execute().getItems()) {
        log.error("event {} {}: {}", event.getInvolvedObject().getName(), event.getReason(), event.getMessage());
      }
    } catch (Exception e) {
      log.error("could not collect diagnostics: {}", e.toString());
    }
  }

  // ---- setup helpers

  /** Points the store ConfigMap at the test's S3 server and fills the credentials Secret. */
  @SuppressWarnings("unchecked")
  static void configure(Map<String, Object> doc, String store) {
    var name = (String) ((Map<String, Object>) doc.get("metadata")).get("name");
    if ("ConfigMap".equals(doc.get("kind")) && "bucketdisk-store".equals(name)) {
      doc.put("data", new HashMap<>(Map.of("store", store)));
    }
    if ("Secret".equals(doc.get("kind")) && "bucketdisk-s3".equals(name)) {
      doc.put("stringData", new HashMap<>(Map.of("AWS_ACCESS_KEY_ID", ACCESS, "AWS_SECRET_ACCESS_KEY", SECRET)));
    }
  }

  @SuppressWarnings("unchecked")
  static void inKubeSystem(Map<String, Object> doc) {
    var kind = (String) doc.get("kind");
    if (List.of("ServiceAccount", "Role", "RoleBinding", "Deployment", "StatefulSet").contains(kind)) {
      ((Map<String, Object>) doc.get("metadata")).put("namespace", "kube-system");
    }
    if ("ClusterRoleBinding".equals(kind) || "RoleBinding".equals(kind)) {
      for (var subject : (List<Map<String, Object>>) doc.get("subjects")) {
        if ("ServiceAccount".equals(subject.get("kind"))) {
          subject.put("namespace", "kube-system");
        }
      }
    }
  }

  /** Copies a locally built image into k3s's containerd, so no registry is needed for it. */
  static void loadImage(K3sContainer cluster, String image) throws Exception {
    var tar = Files.createTempFile("bucketdisk-image", ".tar");
    try (var in = DockerClientFactory.instance().client().saveImageCmd(image).exec()) {
      Files.copy(in, tar, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    cluster.copyFileToContainer(MountableFile.forHostPath(tar), "/tmp/bucketdisk-image.tar");
    var result = cluster.execInContainer("ctr", "-n", "k8s.io", "images", "import", "/tmp/bucketdisk-image.tar");
    Files.deleteIfExists(tar);
    assertThat(result.getExitCode()).as("ctr images import: " + result.getStderr()).isZero();
  }

  static String fetch(String url) throws IOException, InterruptedException {
    try (var http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(20)).followRedirects(HttpClient.Redirect.NORMAL).build()) {
      var response = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(response.statusCode()).as("GET " + url).isEqualTo(200);
      return response.body();
    }
  }

  static Path repositoryRoot() {
    var dir = Path.of("").toAbsolutePath();
    for (int i = 0; i < 4 && dir != null; i++, dir = dir.getParent()) {
      if (Files.isRegularFile(dir.resolve("deploy/kubernetes/kustomization.yaml"))) {
        return dir;
      }
    }
    throw new IllegalStateException("cannot find deploy/kubernetes from " + Path.of("").toAbsolutePath());
  }

  interface Check {
    boolean done() throws Exception;
  }

  /** Polls every 2 s until {@code check} is true; fails with {@code what} after {@code timeout}. */
  static void waitFor(String what, Duration timeout, Check check) throws Exception {
    var deadline = Instant.now().plus(timeout);
    ApiException last = null;
    while (Instant.now().isBefore(deadline)) {
      try {
        if (check.done()) {
          log.info("{}: ok", what);
          return;
        }
      } catch (ApiException e) {
        last = e;
      }
      Thread.sleep(2000);
    }
    throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for: " + what
        + (last == null ? "" : " (last API error " + last.getCode() + ": " + last.getResponseBody() + ")"));
  }
}
