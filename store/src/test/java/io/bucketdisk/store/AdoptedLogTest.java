package io.bucketdisk.store;

import io.bucketdisk.store.object.DirectoryObjectStore;
import io.bucketdisk.store.object.ObjectStore;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** Log adoption over the local directory store. */
class AdoptedLogTest extends AdoptedLogContract {
  @TempDir Path dir;

  @Override
  ObjectStore newStore() throws Exception {
    return new DirectoryObjectStore(dir.resolve("store"), false, StoreMetrics.NONE);
  }
}
