/**
 * gRPC over Unix domain sockets, the transport of every CSI endpoint and of the gateway's control API. One server
 * bootstrap ({@link io.bucketdisk.rpc.UnixSocketServer}) so the controller, node plugin and gateway agree on how an
 * address is written, how a live socket is protected from being taken over, and how a server stops.
 */
@NullMarked
package io.bucketdisk.rpc;

import org.jspecify.annotations.NullMarked;
