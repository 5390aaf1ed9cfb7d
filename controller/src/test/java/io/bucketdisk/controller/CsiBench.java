package io.bucketdisk.controller;

import static io.bucketdisk.controller.CsiClient.createReq;
import static io.bucketdisk.controller.CsiClient.snapReq;

import io.bucketdisk.proto.csi.DeleteSnapshotRequest;
import io.bucketdisk.proto.csi.DeleteVolumeRequest;
import io.bucketdisk.proto.csi.ListVolumesRequest;
import io.bucketdisk.store.CatalogOptions;
import io.bucketdisk.store.LeaseOwner;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.testing.S3ProxyFixture;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Locale;

/**
 * Controller benchmark (not a test): CreateVolume and CreateSnapshot latency over the real Unix socket against an
 * embedded s3proxy, ListVolumes over 1,000 volumes, and snapshot time of a 1 GiB vs a 64 GiB volume with written
 * chunks (a snapshot is O(1): it must not depend on the size). Prints a Markdown table. Run with
 * {@code bench/csi-bench.sh}.
 */
public final class CsiBench {
  private CsiBench() {}

  public static void main(String[] args) throws Exception {
    int volumes = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    var rows = new ArrayList<String>();
    try (var s3 = S3ProxyFixture.start()) {
      var url = s3.storeUrl("bench/");
      Path dir = Files.createTempDirectory(Path.of("/tmp"), "bdbench");
      try (var catalog = VolumeCatalog.open(url, CatalogOptions.defaults());
          var plugin = new ControllerPlugin(catalog, NodeDirectory.ANY, null);
          var server = plugin.serve(dir.resolve("csi.sock"), null);
          var csi = new CsiClient(server.socket())) {
        // Warm-up: JIT, channel, s3proxy.
        for (int i = 0; i < 50; i++) {
          String id = csi.ctl().createVolume(createReq("warm-" + i, 1L << 30, 0).build()).getVolume().getVolumeId();
          csi.ctl().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
        }
        long[] create = new long[volumes];
        var ids = new ArrayList<String>();
        for (int i = 0; i < volumes; i++) {
          long t = System.nanoTime();
          ids.add(csi.ctl().createVolume(createReq(String.format("bench-%04d", i), 10L << 30, 0).build())
              .getVolume().getVolumeId());
          create[i] = System.nanoTime() - t;
        }
        rows.add(row("CreateVolume (10 GiB, sequential)", create));

        long[] listAll = new long[5];
        for (int i = 0; i < listAll.length; i++) {
          long t = System.nanoTime();
          int n = csi.ctl().listVolumes(ListVolumesRequest.getDefaultInstance()).getEntriesCount();
          listAll[i] = System.nanoTime() - t;
          if (n != volumes) {
            throw new IllegalStateException("listed " + n + " volumes, expected " + volumes);
          }
        }
        rows.add(row("ListVolumes, all " + volumes + " in one call", listAll));
        long[] paged = new long[5];
        for (int i = 0; i < paged.length; i++) {
          long t = System.nanoTime();
          String token = "";
          do {
            token = csi.ctl().listVolumes(ListVolumesRequest.newBuilder().setMaxEntries(100).setStartingToken(token)
                .build()).getNextToken();
          } while (!token.isEmpty());
          paged[i] = System.nanoTime() - t;
        }
        rows.add(row("ListVolumes, " + volumes + " in pages of 100 (whole walk)", paged));

        int snaps = Math.min(200, volumes);
        long[] snap = new long[snaps];
        var snapIds = new ArrayList<String>();
        for (int i = 0; i < snaps; i++) {
          long t = System.nanoTime();
          snapIds.add(csi.ctl().createSnapshot(snapReq("bench-snap-" + i, ids.get(i))).getSnapshot()
              .getSnapshotId());
          snap[i] = System.nanoTime() - t;
        }
        rows.add(row("CreateSnapshot (idle volume)", snap));

        for (long size : new long[] {1L << 30, 64L << 30}) {
          String vol = csi.ctl().createVolume(createReq("bench-size-" + (size >> 30), size, 0).build()).getVolume()
              .getVolumeId();
          int chunks = writeChunks(catalog, vol, size);
          long[] t = new long[20];
          for (int i = 0; i < t.length; i++) {
            long s = System.nanoTime();
            String sid = csi.ctl().createSnapshot(snapReq("bench-size-" + (size >> 30) + "-" + i, vol)).getSnapshot()
                .getSnapshotId();
            t[i] = System.nanoTime() - s;
            snapIds.add(sid);
          }
          rows.add(row("CreateSnapshot, " + (size >> 30) + " GiB volume, " + chunks + " chunks written", t));
          ids.add(vol);
        }
        for (String s : snapIds) {
          csi.ctl().deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId(s).build());
        }
        long[] del = new long[ids.size()];
        int retries = 0;
        for (int i = 0; i < ids.size(); i++) {
          long t = System.nanoTime();
          // As a CO would: retry what the store reported as unavailable (s3proxy drops a request now and then).
          for (int attempt = 0; ; attempt++) {
            try {
              csi.ctl().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(ids.get(i)).build());
              break;
            } catch (io.grpc.StatusRuntimeException e) {
              if (attempt >= 5 || e.getStatus().getCode() != io.grpc.Status.Code.UNAVAILABLE) {
                throw e;
              }
              retries++;
            }
          }
          del[i] = System.nanoTime() - t;
        }
        if (retries > 0) {
          System.err.println("DeleteVolume: " + retries + " UNAVAILABLE answers retried");
        }
        rows.add(row("DeleteVolume", del));
      } finally {
        Files.deleteIfExists(dir.resolve("csi.sock"));
        Files.deleteIfExists(dir);
      }
    }
    System.out.println("| operation | n | p50 ms | p99 ms | max ms |");
    System.out.println("|---|---|---|---|---|");
    rows.forEach(System.out::println);
  }

  /** Writes 16 chunks spread over the volume (first, last and in between), through the store's writable handle. */
  private static int writeChunks(VolumeCatalog catalog, String volumeId, long size) throws Exception {
    try (var handle = catalog.open(volumeId, new LeaseOwner("bench", "unix:///nonexistent"), false)) {
      var buf = ByteBuffer.allocateDirect(handle.chunkSize());
      long count = (size + handle.chunkSize() - 1) / handle.chunkSize();
      int written = 0;
      for (int i = 0; i < 16; i++) {
        long index = i == 15 ? count - 1 : i * (count / 16);
        buf.clear();
        while (buf.hasRemaining()) {
          buf.put((byte) (index + 1));
        }
        buf.flip();
        handle.write(index, buf);
        written++;
      }
      return written;
    }
  }

  private static String row(String name, long[] nanos) {
    long[] s = nanos.clone();
    Arrays.sort(s);
    return String.format(Locale.ROOT, "| %s | %d | %.2f | %.2f | %.2f |", name, s.length, ms(pct(s, 0.50)),
        ms(pct(s, 0.99)), ms(s[s.length - 1]));
  }

  private static long pct(long[] sorted, double p) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
  }

  private static double ms(long nanos) {
    return nanos / 1e6;
  }

}
