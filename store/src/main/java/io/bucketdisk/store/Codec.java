package io.bucketdisk.store;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.bucketdisk.store.layout.SnapshotRecord;
import io.bucketdisk.store.layout.VolumeManifest;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * JSON of the stored records. Unknown fields are ignored (a newer writer may add some); a record that does not parse
 * is a PERMANENT error naming the key.
 */
final class Codec {
  private static final ObjectMapper JSON = new ObjectMapper()
      .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
      .configure(SerializationFeature.INDENT_OUTPUT, true);

  private Codec() {}

  static ByteBuffer encode(Object value) {
    try {
      return ByteBuffer.wrap(JSON.writeValueAsBytes(value));
    } catch (IOException e) {
      throw new IllegalStateException("cannot encode " + value, e);
    }
  }

  static VolumeManifest manifest(String key, byte[] json) throws StoreException {
    return decode(key, json, VolumeManifest.class);
  }

  static SnapshotRecord snapshot(String key, byte[] json) throws StoreException {
    return decode(key, json, SnapshotRecord.class);
  }

  private static <T> T decode(String key, byte[] json, Class<T> type) throws StoreException {
    try {
      return JSON.readValue(json, type);
    } catch (IOException e) {
      throw new StoreException(StoreException.Kind.PERMANENT, "corrupt " + type.getSimpleName() + " at " + key + ": "
          + e.getMessage().lines().findFirst().orElse(""), e);
    }
  }
}
