/**
 * The CSI Identity and Controller services of bucketdisk, served by grpc-java on a Unix socket.
 *
 * <p><b>Shape.</b> {@link io.bucketdisk.controller.CsiServer} owns the socket and the lifecycle. {@code
 * IdentityService} and {@code ControllerService} are thin: they check the request against the spec's field rules,
 * call a domain class ({@link io.bucketdisk.controller.VolumeManager}, {@link
 * io.bucketdisk.controller.SnapshotManager}, {@code PublishFencer}) and build the reply. Domain code throws {@link
 * io.bucketdisk.controller.VolumeError} (a reason plus a human message) or lets {@link
 * io.bucketdisk.store.StoreException} through; {@code ControllerErrors} is the one place that turns either into the gRPC
 * status the spec asks for, so nothing leaves as {@code UNKNOWN}.
 *
 * <p><b>Idempotency.</b> CreateVolume and CreateSnapshot derive the id from the CO's name ({@link
 * io.bucketdisk.store.VolumeIds}) and record the name in the manifest, so a retry after a timeout finds the
 * same volume, and a create is one conditional PUT in the store (atomic: after a crash the volume either exists or
 * not). Calls on one volume or name are serialised by {@code OperationLocks}; a concurrent second call gets {@code
 * ABORTED} ("operation pending"), as spec.md §Concurrency suggests.
 *
 * <p><b>Secrets.</b> Request {@code secrets} maps and mount flags are never logged; the log line of a call is its
 * method, volume id and outcome.
 */
@NullMarked
package io.bucketdisk.controller;

import org.jspecify.annotations.NullMarked;
