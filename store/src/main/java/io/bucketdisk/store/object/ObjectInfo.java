package io.bucketdisk.store.object;

/** One object's key (relative to the store prefix), size in bytes and ETag, as HEAD or LIST report them. */
public record ObjectInfo(String key, long size, String etag) {}
