package io.bucketdisk.store.object;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.bucketdisk.store.StoreMetrics;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DirectoryObjectStoreTest extends ObjectStoreContract {
  @TempDir Path dir;
  private int n;

  @Override
  ObjectStore store() throws Exception {
    // the contract runs without fsync (this machine's disk makes 2000 fsyncs take seconds); durability below
    return new DirectoryObjectStore(dir.resolve("s" + n++), false, StoreMetrics.NONE);
  }

  @Test
  void durableStoreRoundTrip() throws Exception {
    try (ObjectStore s = new DirectoryObjectStore(dir.resolve("durable"), true, StoreMetrics.NONE)) {
      String e = s.put("volumes/v/manifest", ObjectStoreContract.bytes("m"), WriteCondition.ifNoneMatch());
      assertThat(s.get("volumes/v/manifest").orElseThrow().etag()).isEqualTo(e);
      s.delete(java.util.List.of("volumes/v/manifest"));
      assertThat(s.head("volumes/v/manifest")).isEmpty();
    }
  }

  @Test
  void keysCannotEscapeTheDirectory() throws Exception {
    try (ObjectStore s = store()) {
      assertThatThrownBy(() -> s.put("../x", ByteBuffer.allocate(1))).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> s.put("/abs", ByteBuffer.allocate(1))).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> s.put(".tmp/x", ByteBuffer.allocate(1))).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void aKeyAndAKeyBelowItCoexist() throws Exception {
    try (ObjectStore s = store()) {
      s.put("a", ObjectStoreContract.bytes("1"));
      s.put("a/b", ObjectStoreContract.bytes("2"));
      assertThat(s.list("a", null, 10).objects()).extracting(ObjectInfo::key).containsExactly("a", "a/b");
    }
  }

  @Test
  void deletePrunesEmptyDirectoriesAndLeavesNoTempFiles() throws Exception {
    Path root = dir.resolve("prune");
    try (DirectoryObjectStore s = new DirectoryObjectStore(root, StoreMetrics.NONE)) {
      s.put("volumes/v/chunks/1", ObjectStoreContract.bytes("x"));
      s.delete("volumes/v/chunks/1");
      assertThat(root.resolve("volumes")).doesNotExist();
      try (var tmp = Files.list(root.resolve(".tmp"))) {
        assertThat(tmp).isEmpty();
      }
    }
  }

  @Test
  void anInterruptedCallerDoesNotBreakTheStoreForOthers() throws Exception {
    try (ObjectStore s = store()) {
      s.put("k", ObjectStoreContract.bytes("1"));
      Thread t = Thread.ofPlatform().start(() -> {
        Thread.currentThread().interrupt();
        try {
          s.delete("k"); // the lock channel is interruptible: this closes it
        } catch (ObjectStoreException e) {
          // expected: interrupted
        }
      });
      t.join(10_000);
      s.put("k2", ObjectStoreContract.bytes("2"), WriteCondition.ifNoneMatch());
      s.delete("k2");
      assertThat(s.get("k2")).isEmpty();
    }
  }

  @Test
  void staleTempFilesOfACrashedWriterAreRemovedAtOpen() throws Exception {
    Path root = dir.resolve("stale");
    new DirectoryObjectStore(root, false, StoreMetrics.NONE).close();
    Path old = Files.write(root.resolve(".tmp/old.tmp"), new byte[10]);
    Files.setLastModifiedTime(old, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 7_200_000));
    Path fresh = Files.write(root.resolve(".tmp/fresh.tmp"), new byte[10]);
    new DirectoryObjectStore(root, false, StoreMetrics.NONE).close();
    assertThat(old).doesNotExist();
    assertThat(fresh).exists();
  }

  @Test
  void twoInstancesOnOneDirectoryShareConditionalWrites() throws Exception {
    Path root = dir.resolve("shared");
    try (var a = new DirectoryObjectStore(root, StoreMetrics.NONE);
        var b = new DirectoryObjectStore(root, StoreMetrics.NONE)) {
      String e = a.put("m", ObjectStoreContract.bytes("1"), WriteCondition.ifNoneMatch());
      assertThatThrownBy(() -> b.put("m", ObjectStoreContract.bytes("2"), WriteCondition.ifNoneMatch()))
          .isInstanceOf(ObjectStoreException.class);
      b.put("m", ObjectStoreContract.bytes("3"), WriteCondition.ifMatch(e));
      assertThat(a.get("m").orElseThrow().bytes()).containsExactly('3');
    }
  }
}
