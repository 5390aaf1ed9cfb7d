package io.bucketdisk.store;

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

  final Map<Process, Path> stderrs = new java.util.HashMap<>();

  Process child(String... args) throws Exception {
    Path stderr = dir.resolve("child-" + args[0] + "-" + System.nanoTime() + ".err");
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), CrashChild.class.getName()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectError(stderr.toFile()).start();
    stderrs.put(p, stderr);
    return p;
  }

  @Test
  void aKilledWriterLosesNothingItAcknowledged() throws Exception {
    Path root = dir.resolve("store");
    try (var store = new DirectoryObjectStore(root, true, StoreMetrics.NONE);
        var catalog = new VolumeCatalog(store, CrashChild.options())) {
      catalog.create(new VolumeSpec("v", 64L * CrashChild.CHUNK, CrashChild.CHUNK, Map.of()));
      Process p = child("write", root.toString(), "v", "64");
      int lastAck = -1;
      try (var out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = out.readLine()) != null && lastAck < 20) {
          if (line.startsWith("ACK ")) {
            lastAck = Integer.parseInt(line.substring(4));
          }
        }
        p.destroyForcibly();
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
      }
      assertThat(lastAck).as("the child acknowledged writes before it was killed; its stderr: %s",
          Files.readString(stderrs.get(p))).isGreaterThanOrEqualTo(20);

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
    Process a = child("race", root.toString(), Integer.toString(keys), "a");
    Process b = child("race", root.toString(), Integer.toString(keys), "b");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!(Files.exists(root.resolve("ready-a")) && Files.exists(root.resolve("ready-b")))
        && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    Files.createFile(root.resolve("go")); // both JVMs are up and spinning on this file
    int wins = wins(a) + wins(b);
    assertThat(wins).isEqualTo(keys);
  }

  private int wins(Process p) throws Exception {
    try (var out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = out.readLine()) != null) {
        if (line.startsWith("WINS ")) {
          assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
          return Integer.parseInt(line.substring(5));
        }
      }
    }
    p.waitFor(20, TimeUnit.SECONDS);
    throw new AssertionError("child exited " + p.exitValue() + " without reporting: " + Files.readString(stderrs.get(p)));
  }
}
