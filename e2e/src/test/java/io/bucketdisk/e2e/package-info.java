/**
 * Whole-system tests without Kubernetes. The host runs s3proxy, the CSI controller and the gateway in the test JVM
 * ({@link io.bucketdisk.e2e.HostServices}); the node plugin runs in a QEMU guest with a real kernel (the node
 * plugin's {@code GuestVm} harness). The tests drive both CSI sockets in the order a CO and its sidecars do and
 * check the result where it lands: files in the guest, objects in the bucket.
 */
@NullMarked
package io.bucketdisk.e2e;

import org.jspecify.annotations.NullMarked;
