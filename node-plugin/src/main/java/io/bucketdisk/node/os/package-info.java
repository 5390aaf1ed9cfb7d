/**
 * The few libc calls the node plugin needs, made through Java's FFM API ({@code java.lang.foreign}): sockets
 * whose int file descriptors can be handed to the kernel (NBD sockets, generic netlink).
 *
 * <p>Design note: the JDK's own socket channels hide their file descriptors, and the kernel NBD driver takes
 * sockets by fd number in {@code NBD_ATTR_SOCK_FD}. Creating the sockets here with {@code socket(2)} and
 * {@code connect(2)} keeps the fd in our hands without JDK internals or a native helper. {@code errno} is read
 * through {@code Linker.Option.captureCallState}, so every failure carries the kernel's error number.
 * Downcalls block the calling platform thread; callers keep them off virtual threads on hot paths.
 */
@NullMarked
package io.bucketdisk.node.os;

import org.jspecify.annotations.NullMarked;
