package io.bucketdisk.store.layout;

/**
 * The parent of a clone: chunks the clone never wrote are read from {@code volumeId} at {@code epoch} (the epoch of
 * snapshot {@code snapshotId}, which stays pinned while the clone exists, even when deleted by the user).
 */
public record ParentRef(String volumeId, String snapshotId, long epoch) {}
