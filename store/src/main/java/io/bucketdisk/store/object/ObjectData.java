package io.bucketdisk.store.object;

/**
 * A whole small object as read by {@link ObjectStore#get}: its bytes (owned by the receiver) and its ETag, to pass
 * to {@link WriteCondition#ifMatch} for a read-modify-write.
 */
public record ObjectData(byte[] bytes, String etag) {}
