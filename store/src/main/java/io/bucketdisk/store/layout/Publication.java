package io.bucketdisk.store.layout;

/** A node the controller published the volume to (CSI ControllerPublish), and whether read-only. */
public record Publication(boolean readOnly, long publishedAtMillis) {}
