package io.bucketdisk.store.object;

import io.bucketdisk.store.testing.CephRgwFixture;
import io.bucketdisk.store.testing.S3Server;

/**
 * The contract against a real Ceph RADOS Gateway (Debian 12's Ceph 16.2), started once per run by {@link
 * CephRgwFixture}. Its If-Match is checked and written atomically in the OSD, so exactly one racing writer wins.
 */
class CephS3ObjectStoreIT extends S3ServerContract {

  @Override
  S3Server server() {
    return CephRgwFixture.shared();
  }
}
