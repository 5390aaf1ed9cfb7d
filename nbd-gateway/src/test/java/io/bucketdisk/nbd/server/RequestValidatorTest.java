package io.bucketdisk.nbd.server;

import static io.bucketdisk.nbd.wire.NbdConstants.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.export.MemoryExport;
import io.bucketdisk.nbd.export.NbdError;
import io.bucketdisk.nbd.handshake.ExportInfo;
import io.bucketdisk.nbd.wire.RequestHeader;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The validation order and each rule of "Malformed or invalid requests", without a socket. */
@Timeout(10)
class RequestValidatorTest {
  static final long SIZE = 1 << 20;
  final ExportInfo writable = ExportInfo.of(new MemoryExport("w", "", SIZE), false);
  final ExportInfo readOnly = ExportInfo.of(new MemoryExport("r", "", SIZE, true), false);
  final ExportInfo aligned = ExportInfo.of(new MemoryExport("a", "", SIZE, false, 4096), true);

  static @Nullable NbdError check(ExportInfo info, boolean structured, boolean extended, int flags, int type,
      long offset, long length) {
    var r = new RequestValidator(info, structured, extended, structured)
        .validate(new RequestHeader(flags, type, 1, offset, length, extended), SIZE);
    return r == null ? null : r.error();
  }

  @Test
  void rules() {
    assertThat(check(writable, false, false, 0, CMD_READ, 0, 512)).isNull();
    assertThat(check(writable, false, false, 0, 99, 0, 512)).isEqualTo(NbdError.EINVAL);
    assertThat(check(writable, false, false, CMD_FLAG_DF, CMD_READ, 0, 512)).isEqualTo(NbdError.EINVAL);
    assertThat(check(writable, false, false, 0, CMD_WRITE, SIZE, 1)).isEqualTo(NbdError.ENOSPC);
    assertThat(check(writable, false, false, 0, CMD_WRITE_ZEROES, SIZE - 1, 2)).isEqualTo(NbdError.ENOSPC);
    assertThat(check(writable, false, false, 0, CMD_TRIM, SIZE - 1, 2)).isEqualTo(NbdError.EINVAL);
    assertThat(check(writable, false, false, 0, CMD_READ, Long.MIN_VALUE, 1)).isEqualTo(NbdError.EINVAL);
    assertThat(check(writable, false, false, 0, CMD_READ, 0, MAX_PAYLOAD + 1L)).isEqualTo(NbdError.EINVAL);
    assertThat(check(writable, false, false, 0, CMD_TRIM, 0, SIZE)).as("payload-less may exceed max payload")
        .isNull();
    assertThat(check(readOnly, false, false, 0, CMD_WRITE, SIZE, 1)).as("EPERM before range")
        .isEqualTo(NbdError.EPERM);
    assertThat(check(readOnly, false, false, 0, CMD_TRIM, 0, 1)).isEqualTo(NbdError.EPERM);
    assertThat(check(aligned, true, false, 0, CMD_READ, 512, 4096)).isEqualTo(NbdError.EINVAL);
    assertThat(check(aligned, true, false, CMD_FLAG_DF, CMD_READ, 4096, 4096)).isNull();
    assertThat(check(writable, false, true, 0, CMD_WRITE, 0, 512)).isEqualTo(NbdError.EINVAL);
    assertThat(check(writable, false, true, CMD_FLAG_PAYLOAD_LEN, CMD_WRITE, 0, 512)).isNull();
    assertThat(check(writable, false, false, CMD_FLAG_PAYLOAD_LEN, CMD_WRITE, 0, 512)).isEqualTo(NbdError.EINVAL);
    assertThat(check(writable, false, false, 0, CMD_BLOCK_STATUS, 0, 512)).isEqualTo(NbdError.EINVAL);
    assertThat(check(writable, false, false, CMD_FLAG_FAST_ZERO | CMD_FLAG_NO_HOLE | CMD_FLAG_FUA,
        CMD_WRITE_ZEROES, 0, 512)).isNull();
    assertThat(check(writable, false, false, 0, CMD_FLUSH, 0, 1)).isEqualTo(NbdError.EINVAL);
  }
}
