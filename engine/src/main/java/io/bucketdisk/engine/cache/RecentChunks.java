package io.bucketdisk.engine.cache;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Freshly loaded clean chunks of every volume of a gateway, kept by recency before Caffeine's frequency-based
 * admission sees them. Part of the clean budget of {@link ChunkCache}.
 *
 * <p><b>Why.</b> Caffeine's W-TinyLFU admits a new entry into its main space only if it was used more often than
 * the entry it would evict, and its admission window is 1% of the maximum weight: less than one 4 MiB chunk for any
 * cache under 400 MiB. A chunk a streaming reader has just loaded (or read ahead) has been used once, so Caffeine
 * rejected it at insert, and the next request for the same chunk fetched it again (416 GETs for 256 chunks in a cold
 * sequential read). Here a loaded chunk stays, least recently used first out, until newer loads push it out; only
 * then is it offered to Caffeine ({@link ChunkOwner#demote}), which keeps it if it earned its place by frequency.
 *
 * <p><b>Entries</b> are clean and fully valid. Inserting happens inside the volume's {@code dirty.compute} for the
 * chunk (with the stripe stamp check), removal for a write also ({@code becomeDirty}); so a chunk is never both here
 * and dirty. A read-ahead entry counts as unread until its first hit; {@link #unread} lets read-ahead stop before it
 * would push out chunks nobody has read yet.
 *
 * <p>Thread safe (one monitor, held only for map operations; never while taking a dirty-map or buffer lock).
 */
final class RecentChunks {
  /** A chunk pushed out (or never admitted); offer it to Caffeine if its stripe stamp still holds. */
  record Evicted(ChunkKey key, ChunkBuffer buffer, long stamp) {}

  private static final class Entry {
    final ChunkBuffer buffer;
    final long stamp;
    final int bytes;
    boolean unread;

    Entry(ChunkBuffer buffer, long stamp, int bytes, boolean unread) {
      this.buffer = buffer;
      this.stamp = stamp;
      this.bytes = bytes;
      this.unread = unread;
    }
  }

  private final LinkedHashMap<ChunkKey, Entry> map = new LinkedHashMap<>(64, 0.75f, true);
  private final long capacityBytes;
  private long bytes;
  private int unread;

  RecentChunks(long capacityBytes) {
    this.capacityBytes = Math.max(0, capacityBytes);
  }

  long capacityBytes() {
    return capacityBytes;
  }

  /** The buffer of {@code key}, marking it most recently used (and read), or null. */
  synchronized @Nullable ChunkBuffer get(ChunkKey key) {
    Entry e = map.get(key);
    if (e == null) {
      return null;
    }
    if (e.unread) {
      e.unread = false;
      unread--;
    }
    return e.buffer;
  }

  /** Whether {@code key} is held, without touching its recency. */
  synchronized boolean contains(ChunkKey key) {
    return map.containsKey(key);
  }

  /**
   * Adds {@code buffer} (loaded when the chunk's stripe stamp was {@code stamp}) unless {@code key} is held already;
   * returns what had to leave to stay within the capacity (possibly {@code buffer} itself), or an empty list.
   */
  synchronized List<Evicted> put(ChunkKey key, ChunkBuffer buffer, long stamp, boolean readAhead) {
    if (map.containsKey(key)) {
      return List.of();
    }
    int size = buffer.valid.limit();
    if (size > capacityBytes) {
      return List.of(new Evicted(key, buffer, stamp));
    }
    map.put(key, new Entry(buffer, stamp, size, readAhead));
    bytes += size;
    if (readAhead) {
      unread++;
    }
    List<Evicted> out = List.of();
    Iterator<Map.Entry<ChunkKey, Entry>> it = map.entrySet().iterator();
    while (bytes > capacityBytes && it.hasNext()) {
      Map.Entry<ChunkKey, Entry> eldest = it.next();
      Entry e = eldest.getValue();
      it.remove();
      forget(e);
      if (out.isEmpty()) {
        out = new ArrayList<>(1);
      }
      out.add(new Evicted(eldest.getKey(), e.buffer, e.stamp));
    }
    return out;
  }

  /** Removes and returns the buffer of {@code key} (a write takes it over), or null. */
  synchronized @Nullable ChunkBuffer remove(ChunkKey key) {
    Entry e = map.remove(key);
    if (e == null) {
      return null;
    }
    forget(e);
    return e.buffer;
  }

  /** Drops every chunk of {@code volume} (it closed). */
  synchronized void removeVolume(ChunkOwner volume) {
    Iterator<Map.Entry<ChunkKey, Entry>> it = map.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<ChunkKey, Entry> e = it.next();
      if (e.getKey().owner() == volume) {
        it.remove();
        forget(e.getValue());
      }
    }
  }

  private void forget(Entry e) {
    bytes -= e.bytes;
    if (e.unread) {
      unread--;
    }
  }

  /** Bytes held now. */
  synchronized long bytes() {
    return bytes;
  }

  /** Read-ahead chunks held that no reader has asked for yet. */
  synchronized int unread() {
    return unread;
  }
}
