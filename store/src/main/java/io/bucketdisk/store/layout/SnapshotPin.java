package io.bucketdisk.store.layout;

/**
 * A snapshot as its volume's manifest remembers it: the epoch whose chunks must stay readable, and whether the user
 * already deleted it (then it is only kept because clones still read through it).
 */
public record SnapshotPin(long epoch, long createdAtMillis, boolean deleted) {}
