/**
 * What the volume engine offers a front end: one {@link io.bucketdisk.engine.Volume} per open volume, with the NBD
 * verbs as its methods, and {@link io.bucketdisk.engine.EngineException} for the failures a front end must tell
 * apart.
 *
 * <p><b>Where it sits.</b> {@code nbd-gateway} speaks the NBD protocol and adapts each export to a {@code Volume};
 * {@code store} lays chunks out in a bucket. Between them the engine keeps the bytes in memory, decides when they
 * go to the store, and makes FLUSH and FUA mean what the NBD spec says. {@code engine.cache} is the write-back
 * chunk cache that implements {@code Volume} today; {@code engine.volume} opens volumes on first use and closes
 * them on last.
 *
 * <p><b>Durability.</b> A write returns once its bytes are in the engine's memory; {@link
 * io.bucketdisk.engine.Volume#flush()} returns once every write that returned before it (through any handle of the
 * volume) is stored; a verb with {@code fua} returns once its own effect is stored. The engine never acknowledges
 * what it has not stored, and never drops a change silently.
 */
@NullMarked
package io.bucketdisk.engine;

import org.jspecify.annotations.NullMarked;
