package io.bucketdisk.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class PayloadBuffersTest {
  @Test
  void leasesAreDirectSizedAndReused() {
    var pool = new PayloadBuffers();
    var a = pool.acquire(5000);
    assertThat(a.isDirect()).isTrue();
    assertThat(a.capacity()).isEqualTo(8192);
    assertThat(a.limit()).isEqualTo(5000);
    assertThat(pool.leased()).isEqualTo(1);
    pool.release(a);
    assertThat(pool.leased()).isZero();
    assertThat(pool.acquire(8000)).isSameAs(a);
    assertThat(pool.acquire(1).capacity()).isEqualTo(4096);
    assertThat(pool.acquire(PayloadBuffers.maxLease()).capacity()).isEqualTo(1 << 25);
  }
}
