package io.bucketdisk.controller;

import static io.bucketdisk.controller.CsiClient.createReq;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.proto.csi.DeleteVolumeRequest;
import io.bucketdisk.proto.csi.ListVolumesRequest;
import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** 1,000 volumes created over the socket, listed with pagination and deleted; the bucket is empty afterwards. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ControllerScaleIT {

  private static final Logger log = LoggerFactory.getLogger(ControllerScaleIT.class);
  private static final int VOLUMES = 1000;
  private static final int PARALLEL = 16;
  @RegisterExtension static final S3ProxyFixture S3 = new S3ProxyFixture();

  @Test
  void thousandVolumes() throws Exception {
    var url = S3ProxyFixture.storeUrl(S3.endpoint(), S3.newBucket(), "scale/");
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "bdscale");
    try (var catalog = VolumeCatalog.open(url, CatalogOptions.defaults());
        var plugin = new ControllerPlugin(catalog, NodeDirectory.ANY, null);
        var server = plugin.serve(dir.resolve("csi.sock"), null);
        var csi = new CsiClient(server.socket());
        var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      var gate = new Semaphore(PARALLEL);
      long t0 = System.nanoTime();
      var creates = new ArrayList<Callable<String>>();
      for (int i = 0; i < VOLUMES; i++) {
        String name = String.format("scale-%04d", i);
        creates.add(() -> {
          gate.acquire();
          try {
            return csi.ctl().createVolume(createReq(name, 1L << 30, 0).build()).getVolume().getVolumeId();
          } finally {
            gate.release();
          }
        });
      }
      var ids = new HashSet<String>();
      for (var f : pool.invokeAll(creates)) {
        ids.add(f.get());
      }
      long t1 = System.nanoTime();
      assertThat(ids).hasSize(VOLUMES);

      var listed = new HashSet<String>();
      String token = "";
      int pages = 0;
      do {
        var page = csi.ctl().listVolumes(ListVolumesRequest.newBuilder().setMaxEntries(100)
            .setStartingToken(token).build());
        assertThat(page.getEntriesCount()).isLessThanOrEqualTo(100);
        page.getEntriesList().forEach(e -> listed.add(e.getVolume().getVolumeId()));
        token = page.getNextToken();
        pages++;
      } while (!token.isEmpty() && pages < 100);
      long t2 = System.nanoTime();
      assertThat(listed).isEqualTo(ids);
      assertThat(pages).isEqualTo(10);

      var deletes = new ArrayList<Callable<Void>>();
      for (String id : ids) {
        deletes.add(() -> {
          gate.acquire();
          try {
            csi.ctl().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
            return null;
          } finally {
            gate.release();
          }
        });
      }
      for (var f : pool.invokeAll(deletes)) {
        f.get();
      }
      long t3 = System.nanoTime();
      assertThat(csi.ctl().listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesCount()).isZero();
      List<String> left = new ArrayList<>();
      var page = catalog.objectStore().list("", null, 1000);
      page.objects().forEach(o -> left.add(o.key()));
      assertThat(left).as("objects left in the bucket").isEmpty();
      log.info("scale: {} creates in {} ms, list of {} pages in {} ms, {} deletes in {} ms; left: {}", VOLUMES,
          (t1 - t0) / 1_000_000, pages, (t2 - t1) / 1_000_000, VOLUMES, (t3 - t2) / 1_000_000, left);
    } finally {
      Files.deleteIfExists(dir.resolve("csi.sock"));
      Files.deleteIfExists(dir);
    }
  }
}
