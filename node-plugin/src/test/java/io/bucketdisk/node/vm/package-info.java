/**
 * A reusable real-kernel test harness: {@link io.bucketdisk.node.vm.GuestVm} boots Debian's kernel (from
 * {@code .cache/kernel}, put there by {@code scripts/setup.sh}) under QEMU TCG with a busybox initramfs built
 * at test time, shares the host's root read-only over 9p, and runs host binaries (and the host's JDK) inside
 * the guest through a {@code chroot}. Tests drive the guest through a small shell agent on a forwarded TCP
 * port and reach host servers at {@code 10.0.2.2}. Shipped in the node-plugin test-jar for the e2e module.
 */
@NullMarked
package io.bucketdisk.node.vm;

import org.jspecify.annotations.NullMarked;
