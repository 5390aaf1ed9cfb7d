package io.bucketdisk.store;

import io.bucketdisk.store.object.DirectoryObjectStore;
import io.bucketdisk.store.object.ObjectStore;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** Merged log segments over the local directory store. */
class MergedLogTest extends MergedLogContract {
  @TempDir Path dir;

  @Override
  ObjectStore newStore() throws Exception {
    return new DirectoryObjectStore(dir.resolve("store"), false, StoreMetrics.NONE);
  }
}
