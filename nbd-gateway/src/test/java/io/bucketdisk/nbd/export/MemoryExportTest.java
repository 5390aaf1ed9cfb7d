package io.bucketdisk.nbd.export;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The in-memory export's verbs, sparse pages and metadata contexts; CheckedExport's guards on top. */
@Timeout(10)
class MemoryExportTest {
  static final int PAGE = MemoryExport.PAGE;

  static List<long[]> extents(Export e, String ctx, long off, long len, int flags) throws Exception {
    var out = new ArrayList<long[]>();
    e.blockStatus(ctx, off, len, flags, (l, f) -> out.add(new long[] {l, f}) && true);
    return out;
  }

  @Test
  void writeReadZeroTrimAndContexts() throws Exception {
    var e = new MemoryExport("m", "", 4L * PAGE);
    e.write(PAGE + 10, ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
    var dst = ByteBuffer.allocateDirect(PAGE * 2);
    e.read(0, dst, 0);
    assertThat(dst.get(PAGE + 10)).isEqualTo((byte) 1);
    assertThat(dst.get(PAGE + 12)).isEqualTo((byte) 3);
    assertThat(dst.get(0)).isZero();
    assertThat(e.allocatedPages()).isEqualTo(1);
    assertThat(extents(e, Capabilities.BASE_ALLOCATION, 0, 4L * PAGE, 0))
        .containsExactly(new long[] {PAGE, 3}, new long[] {PAGE, 0}, new long[] {2L * PAGE, 3});
    assertThat(extents(e, MemoryExport.DIRTY_CONTEXT, 0, 4L * PAGE, 0).get(1)).containsExactly(PAGE, 1);
    e.flush(0);
    assertThat(extents(e, MemoryExport.DIRTY_CONTEXT, 0, 4L * PAGE, 0)).containsExactly(new long[] {4L * PAGE, 0});
    e.zero(PAGE + 11, 1, 0);
    dst.clear();
    e.read(PAGE + 10, dst.limit(3), 0);
    assertThat(dst.get(0)).isEqualTo((byte) 1);
    assertThat(dst.get(1)).isZero();
    e.zero(2L * PAGE, PAGE, 0);
    assertThat(e.allocatedPages()).as("NO_HOLE allocates").isEqualTo(2);
    e.trim(PAGE, 2L * PAGE, 0);
    assertThat(e.allocatedPages()).isZero();
    assertThat(extents(e, MemoryExport.ALLOCATION_DEPTH_CONTEXT, 100, 4L * PAGE - 100, 0))
        .containsExactly(new long[] {4L * PAGE - 100, 0});
    e.close();
    assertThatThrownBy(() -> e.read(0, ByteBuffer.allocate(1), 0))
        .isInstanceOfSatisfying(ExportException.class, x -> assertThat(x.error()).isEqualTo(NbdError.ESHUTDOWN));
  }

  @Test
  void checkedExportRefusesOutOfContractCalls() throws Exception {
    var ro = new CheckedExport(new MemoryExport("r", "", PAGE, true));
    assertThatThrownBy(() -> ro.write(0, ByteBuffer.allocate(1), 0))
        .isInstanceOfSatisfying(ExportException.class, x -> assertThat(x.error()).isEqualTo(NbdError.EPERM));
    var rw = new CheckedExport(new MemoryExport("w", "", PAGE));
    assertThatThrownBy(() -> rw.write(PAGE - 1, ByteBuffer.allocate(2), 0))
        .isInstanceOfSatisfying(ExportException.class, x -> assertThat(x.error()).isEqualTo(NbdError.ENOSPC));
    assertThatThrownBy(() -> rw.read(-1, ByteBuffer.allocate(1), 0))
        .isInstanceOfSatisfying(ExportException.class, x -> assertThat(x.error()).isEqualTo(NbdError.EINVAL));
    assertThatThrownBy(() -> rw.trim(0, 1, Export.MAY_TRIM))
        .isInstanceOfSatisfying(ExportException.class, x -> assertThat(x.error()).isEqualTo(NbdError.EINVAL));
    assertThatThrownBy(() -> rw.blockStatus("nope:x", 0, 1, 0, (l, f) -> true))
        .isInstanceOfSatisfying(ExportException.class, x -> assertThat(x.error()).isEqualTo(NbdError.EINVAL));
    rw.zero(0, PAGE, Export.FAST_ZERO | Export.MAY_TRIM | Export.FUA);
  }

  @Test
  void providerSharesOneExportAcrossHandles() throws Exception {
    var p = MemoryExportProvider.of("a", "desc", PAGE);
    try (var h1 = p.open("a").orElseThrow(); var h2 = p.open("a").orElseThrow()) {
      h1.write(0, ByteBuffer.wrap(new byte[] {9}), 0);
      var b = ByteBuffer.allocate(1);
      h2.read(0, b, 0);
      assertThat(b.get(0)).isEqualTo((byte) 9);
    }
    assertThat(p.open("b")).isEmpty();
    assertThat(p.defaultExport()).contains("a");
    assertThat(p.list()).containsExactly(new ExportProvider.Listing("a", "desc"));
    p.close();
    assertThatThrownBy(() -> p.open("a")).isInstanceOf(ExportException.class);
  }
}
