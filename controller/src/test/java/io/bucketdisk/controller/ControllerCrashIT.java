package io.bucketdisk.controller;

import java.time.Duration;
import io.bucketdisk.testing.ChildJvm;
import static io.bucketdisk.controller.CsiClient.GIB;
import static io.bucketdisk.controller.CsiClient.createReq;
import static io.bucketdisk.controller.CsiClient.snapReq;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.proto.csi.DeleteSnapshotRequest;
import io.bucketdisk.proto.csi.DeleteVolumeRequest;
import io.bucketdisk.proto.csi.ListSnapshotsRequest;
import io.bucketdisk.proto.csi.ListVolumesRequest;
import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.testing.S3ProxyFixture;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Crash safety: a controller in a child JVM is SIGKILLed at a random moment during CreateVolume, CreateSnapshot and
 * DeleteVolume; after a restart the CO's retry (same arguments) must converge: one volume per name, no duplicate,
 * and after deletion no object of the volume left in the bucket. Bounded: a fixed number of rounds per operation.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ControllerCrashIT {

  private static final Logger log = LoggerFactory.getLogger(ControllerCrashIT.class);
  private static final int ROUNDS = 3;
  private static final Path CDS = Path.of(System.getProperty("java.io.tmpdir"), "bucketdisk-crashit.jsa");
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();

  private Path dir;
  private URI storeUrl;
  private ChildJvm child;
  private final Random random = new Random(42);

  @BeforeEach
  void setUp() throws IOException {
    dir = Files.createTempDirectory(Path.of("/tmp"), "bdcrash");
    storeUrl = S3ProxyFixture.storeUrl(S3.endpoint(), S3.newBucket(), "crash/");
  }

  @AfterEach
  void tearDown() throws Exception {
    kill();
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        Files.deleteIfExists(p);
      }
    }
    Files.deleteIfExists(dir);
  }

  private Path socket() {
    return dir.resolve("csi.sock");
  }

  private void startChild() throws Exception {
    // A shared class-data archive and C1 only: the child is restarted a dozen times on a busy 2-core machine.
    child = ChildJvm.start(dir.resolve("controller-" + System.nanoTime() + ".log"),
        List.of("-Xss512k", "-XX:TieredStopAtLevel=1", "-XX:+AutoCreateSharedArchive", "-XX:SharedArchiveFile=" + CDS,
            "-Xshare:auto"), java.util.Map.of(), ControllerProcessMain.class.getName(), storeUrl.toString(),
        socket().toString());
    child.awaitLine("READY", Duration.ofSeconds(60));
  }


  private void kill() throws InterruptedException {
    if (child != null) {
      child.kill();
      child = null;
    }
  }


  /** Sends {@code call} and SIGKILLs the controller after a random delay (0–60 ms), whether or not it finished. */
  private void callThenKill(Consumer<CsiClient> call) throws Exception {
    try (var csi = new CsiClient(socket())) {
      var f = CompletableFuture.runAsync(() -> {
        try {
          call.accept(csi);
        } catch (StatusRuntimeException e) {
          // killed mid-call: UNAVAILABLE or CANCELLED; the retry below decides
        }
      }, r -> Thread.ofVirtual().start(r));
      Thread.sleep(random.nextInt(60));
      kill();
      f.get(30, TimeUnit.SECONDS);
    }
  }

  /** Restarts the controller and retries {@code call} until it succeeds (the CO's behaviour). */
  private <T> T restartAndRetry(java.util.function.Function<CsiClient, T> call) throws Exception {
    startChild();
    try (var csi = new CsiClient(socket())) {
      StatusRuntimeException last = null;
      for (int attempt = 0; attempt < 20; attempt++) {
        try {
          return call.apply(csi);
        } catch (StatusRuntimeException e) {
          last = e;
          Thread.sleep(100);
        }
      }
      throw new AssertionError("retry did not converge", last);
    }
  }

  private List<String> keysOf(String volumeId) throws IOException {
    try (var catalog = VolumeCatalog.open(storeUrl, CatalogOptions.defaults())) {
      var keys = new ArrayList<String>();
      String token = null;
      for (int i = 0; i < 1000; i++) {
        var page = catalog.objectStore().list("", token, 1000);
        page.objects().stream().map(o -> o.key()).filter(k -> k.contains(volumeId)).forEach(keys::add);
        token = page.nextToken();
        if (token == null) {
          break;
        }
      }
      return keys;
    }
  }

  @Test
  void createSnapshotDeleteConvergeAfterKills() throws Exception {
    startChild();
    for (int round = 0; round < ROUNDS; round++) {
      String name = "crash-vol-" + round;
      callThenKill(c -> c.ctl().createVolume(createReq(name, 2 * GIB, 0).build()));
      String id = restartAndRetry(c -> c.ctl().createVolume(createReq(name, 2 * GIB, 0).build()).getVolume()
          .getVolumeId());
      String again = restartAndRetryNoStart(c -> c.ctl().createVolume(createReq(name, 2 * GIB, 0).build())
          .getVolume().getVolumeId());
      assertThat(again).isEqualTo(id);

      String snapName = "crash-snap-" + round;
      callThenKill(c -> c.ctl().createSnapshot(snapReq(snapName, id)));
      String snapId = restartAndRetry(c -> c.ctl().createSnapshot(snapReq(snapName, id)).getSnapshot()
          .getSnapshotId());
      var snaps = restartAndRetryNoStart(c -> c.ctl().listSnapshots(ListSnapshotsRequest.newBuilder()
          .setSourceVolumeId(id).build()));
      assertThat(snaps.getEntriesList()).extracting(e -> e.getSnapshot().getSnapshotId()).containsExactly(snapId);

      callThenKill(c -> c.ctl().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(snapId).build()));
      restartAndRetry(c -> c.ctl().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(snapId)
          .build()));
      callThenKill(c -> c.ctl().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build()));
      restartAndRetry(c -> c.ctl().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build()));
      var volumes = restartAndRetryNoStart(c -> c.ctl().listVolumes(ListVolumesRequest.getDefaultInstance()));
      assertThat(volumes.getEntriesList()).extracting(e -> e.getVolume().getVolumeId()).doesNotContain(id);
      assertThat(keysOf(id)).as("objects left of deleted volume " + id).isEmpty();
      log.info("round {}: volume {} created, snapshotted and deleted through kills", round, id);
    }
  }

  private <T> T restartAndRetryNoStart(java.util.function.Function<CsiClient, T> call) throws Exception {
    try (var csi = new CsiClient(socket())) {
      return call.apply(csi);
    }
  }
}
