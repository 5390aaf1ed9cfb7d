/**
 * The gateway's control API ({@code gateway_control.proto}) on a Unix socket: what the controller and node plugin
 * ask of the gateway that owns a volume. {@link io.bucketdisk.nbd.control.GatewayControlServer} owns the socket;
 * {@link io.bucketdisk.nbd.control.GatewayControlService} maps each RPC onto
 * the engine's {@link io.bucketdisk.engine.volume.VolumeRegistry}: FlushVolume and SnapshotVolume make every acknowledged write
 * durable first (SnapshotVolume then records the snapshot through the volume's own {@code ChunkStore}, the lease
 * holder), RefreshVolume re-reads the manifest so an expanded volume grows without reconnecting, ListOpenVolumes
 * reports connections and dirty bytes. Volumes not open here answer {@code was_open = false}, never an error.
 * CreateEphemeralVolume and DeleteEphemeralVolume create and delete a CSI ephemeral inline volume in the store for
 * the node plugin (which has no store access): the id comes from the name by {@link io.bucketdisk.store.VolumeIds},
 * the manifest carries {@code csi.ephemeral=true} and a publication to the asking node (the record the controller
 * keeps for a persistent volume, so an operator's delete refuses the volume even while a gateway restart leaves it
 * without a lease), and a delete waits for the volume's connections here to end, then unpublishes and deletes it.
 *
 * <p>Errors map to gRPC codes: INVALID_ARGUMENT for an empty id, UNAVAILABLE when the store refused the flush (the
 * caller may retry; the data stays dirty), FAILED_PRECONDITION when the snapshot id is taken (or a volume to
 * delete is not ephemeral, or still connected, or an ephemeral volume is published to another node),
 * ALREADY_EXISTS when an ephemeral volume's name exists with another size, INTERNAL otherwise.
 */
@NullMarked
package io.bucketdisk.nbd.control;

import org.jspecify.annotations.NullMarked;
