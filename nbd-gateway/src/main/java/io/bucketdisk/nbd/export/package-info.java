/**
 * Exports: what an NBD client sees behind a name. {@link io.bucketdisk.nbd.export.Export} carries the NBD
 * verbs ({@code read}, {@code write}, {@code flush}, {@code trim}, {@code zero}, {@code cache},
 * {@code blockStatus}) with the same names at every layer, and {@link io.bucketdisk.nbd.export.Capabilities}
 * says which of them an export really supports, so the server can advertise exactly the transmission flags it
 * honours. {@link io.bucketdisk.nbd.export.ExportProvider} is how the server finds exports by name.
 *
 * <p>Errors travel as {@link io.bucketdisk.nbd.export.ExportException}, which names the NBD error the client
 * must see; any other {@link java.io.IOException} is reported as {@code EIO}.
 */
@NullMarked
package io.bucketdisk.nbd.export;

import org.jspecify.annotations.NullMarked;
