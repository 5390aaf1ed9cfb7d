package io.bucketdisk.store;

import java.time.Duration;
import io.bucketdisk.testing.ChildJvm;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.store.object.DirectoryObjectStore;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real processes on one directory store: a writer killed with SIGKILL mid-stream loses nothing it acknowledged
 * and leaves no torn chunk, its lease expires and another owner takes over; and two processes racing conditional
 * writes on the same keys never both win one.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CrashIT {
  @TempDir Path dir;

  ChildJvm child(String... args) throws Exception {
    return ChildJvm.start(dir.resolve("child-" + args[0] + "-" + System.nanoTime() + ".log"),
        CrashChild.class.getName(), args);
  }

  @Test
  void aKilledWriterLosesNothingItAcknowledged() throws Exception {
    Path root = dir.resolve("store");
    try (var store = new DirectoryObjectStore(root, true, StoreMetrics.NONE);
        var catalog = new VolumeCatalog(store, CrashChild.options())) {
      catalog.create(new VolumeSpec("v", 64L * CrashChild.CHUNK, CrashChild.CHUNK, Map.of()));
      int lastAck = -1;
      try (ChildJvm p = child("write", root.toString(), "v", "64")) {
        while (lastAck < 20) {
          lastAck = Integer.parseInt(p.awaitLine(l -> l.startsWith("ACK "), Duration.ofSeconds(60)).substring(4));
        }
        p.kill();
      }

      LeaseOwner parent = new LeaseOwner("parent", "here");
      ChunkStore cs = null;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (cs == null && System.nanoTime() < deadline) {
        try {
          cs = catalog.open("v", parent, false);
        } catch (StoreException e) {
          assertThat(e.getMessage()).contains("held by gateway child");
          Thread.sleep(100);
        }
      }
      assertThat(cs).as("the dead writer's lease expired").isNotNull();
      try (ChunkStore open = cs) {
        for (int i = 0; i < 64; i++) {
          ByteBuffer dst = ByteBuffer.allocate(CrashChild.CHUNK);
          boolean stored = open.read(i, dst);
          if (i <= lastAck) {
            assertThat(stored).as("acknowledged chunk %d", i).isTrue();
          }
          if (stored) {
            assertThat(dst.flip()).as("chunk %d is whole", i).isEqualTo(CrashChild.content(i));
          }
        }
        open.write(0, CrashChild.content(100));
      }
      try (var tmp = Files.list(root.resolve(".tmp"))) {
        assertThat(tmp.count()).as("temp files of the killed writer are at most the ones in flight").isLessThan(2);
      }
    }
  }

  @Test
  void twoProcessesRacingConditionalWritesNeverBothWin() throws Exception {
    Path root = dir.resolve("race");
    Files.createDirectories(root);
    int keys = 2000;
    try (ChildJvm a = child("race", root.toString(), Integer.toString(keys), "a");
        ChildJvm b = child("race", root.toString(), Integer.toString(keys), "b")) {
      a.awaitLine("READY", Duration.ofSeconds(30));
      b.awaitLine("READY", Duration.ofSeconds(30));
      Files.createFile(root.resolve("go")); // both JVMs are up and spinning on this file
      int wins = wins(a) + wins(b);
      assertThat(wins).isEqualTo(keys);
    }
  }

  private int wins(ChildJvm p) throws Exception {
    int wins = Integer.parseInt(p.awaitLine(l -> l.startsWith("WINS "), Duration.ofSeconds(60)).substring(5));
    assertThat(p.waitFor(Duration.ofSeconds(20))).isZero();
    return wins;
  }

}
