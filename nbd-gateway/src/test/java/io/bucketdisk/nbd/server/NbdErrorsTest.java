package io.bucketdisk.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.engine.EngineException;
import io.bucketdisk.nbd.export.NbdError;
import io.bucketdisk.nbd.wire.NbdConstants;
import io.bucketdisk.nbd.wire.RequestHeader;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class NbdErrorsTest {
  static final RequestHeader WRITE = new RequestHeader(0, NbdConstants.CMD_WRITE, 1, 0, 4096, false);

  static NbdError map(Throwable t) {
    return NbdErrors.map(t, WRITE, "vol");
  }

  @Test
  void everyEngineFailureKindHasItsNbdError() {
    assertThat(map(new EngineException(EngineException.Kind.IO, "x"))).isEqualTo(NbdError.EIO);
    assertThat(map(new EngineException(EngineException.Kind.FENCED, "x"))).isEqualTo(NbdError.EIO);
    assertThat(map(new EngineException(EngineException.Kind.READ_ONLY, "x"))).isEqualTo(NbdError.EPERM);
    assertThat(map(new EngineException(EngineException.Kind.INVALID, "x"))).isEqualTo(NbdError.EINVAL);
    assertThat(map(new EngineException(EngineException.Kind.CLOSED, "x"))).isEqualTo(NbdError.ESHUTDOWN);
    assertThat(map(new IOException("x"))).isEqualTo(NbdError.EIO);
    assertThat(map(new IllegalStateException("bug"))).isEqualTo(NbdError.EIO);
  }
}
