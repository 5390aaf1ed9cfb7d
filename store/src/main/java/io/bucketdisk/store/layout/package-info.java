/**
 * The records stored in the bucket and the key scheme that places them. See {@code docs/store.md} for the picture.
 *
 * <pre>
 * &lt;prefix&gt;manifests/&lt;id&gt;                          VolumeManifest (JSON), changed only with If-Match
 * &lt;prefix&gt;volumes/&lt;id&gt;/chunks/&lt;index:16 hex&gt;@&lt;epoch:8 hex&gt;  chunk data (chunkSize bytes) or a 0-byte tombstone
 * &lt;prefix&gt;volumes/&lt;id&gt;/dependents/&lt;snapshot&gt;/&lt;clone&gt;  0-byte marker: clone depends on this snapshot
 * &lt;prefix&gt;snapshots/&lt;snapshot&gt;                        SnapshotRecord (JSON), the global snapshot index
 * </pre>
 *
 * <p>Epochs: writes go to the manifest's current epoch; a snapshot records the current epoch and bumps it. Reading
 * a chunk at epoch E takes the newest key with epoch &lt;= E; a 0-byte key is a tombstone (reads as zeros, hides
 * older epochs and the parent). A clone's manifest names a parent (volume, snapshot, epoch) and reads through to it
 * for chunks it never wrote. Zero-padded hex keeps LIST order equal to (index, epoch) order, so one paged LIST
 * builds a volume's chunk index. Manifests live apart from the chunks so that listing volumes reads only manifests.
 */
@NullMarked
package io.bucketdisk.store.layout;

import org.jspecify.annotations.NullMarked;
