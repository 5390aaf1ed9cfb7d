package io.bucketdisk.nbd.cache;

import io.bucketdisk.store.testing.S3ProxyFixture;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Runs an embedded s3proxy (filesystem blob store under {@code args[0]}) until killed and writes its store URL for
 * prefix {@code bench/} to {@code args[1]}; used by {@code bench/store-bench.sh}.
 */
public final class S3ProxyMain {
  private S3ProxyMain() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    Files.createDirectories(dir);
    S3ProxyFixture s3 = new S3ProxyFixture(dir);
    s3.startProxy();
    Path tmp = Files.createTempFile(Path.of(args[1]).toAbsolutePath().getParent(), "url", ".tmp");
    Files.writeString(tmp, s3.storeUrl("bench/").toString());
    Files.move(tmp, Path.of(args[1]), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    Thread.sleep(Long.MAX_VALUE);
  }
}
