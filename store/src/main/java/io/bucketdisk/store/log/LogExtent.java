package io.bucketdisk.store.log;

import java.nio.ByteBuffer;
import org.jspecify.annotations.Nullable;

/**
 * One change in a log segment: {@code length} bytes at {@code offset} of chunk {@code chunk}, either the bytes in
 * {@code data} (a read-only slice of the segment) or zeros when {@code data} is null.
 */
public record LogExtent(long chunk, int offset, int length, @Nullable ByteBuffer data) {

  public boolean zero() {
    return data == null;
  }
}
