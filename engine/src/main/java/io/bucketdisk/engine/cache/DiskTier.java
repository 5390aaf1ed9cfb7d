package io.bucketdisk.engine.cache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The optional local disk tier below the {@link ChunkCache}'s clean RAM tiers (a node's NVMe): clean chunks and
 * granules that leave RAM are written here in the background and read back instead of a store GET.
 *
 * <p><b>Layout and bound.</b> One file of {@code slots} slots of {@link #SLOT} bytes (the 64 KiB granule), created
 * empty when the tier opens (its old content is discarded: a cache, no crash consistency) and never grown, so disk use
 * is {@code slots * SLOT}. A whole chunk is its granules, one slot each. The index maps (volume, chunk, granule) to a
 * slot with its CRC32C and the slot's generation, least recently used out when a slot is needed.
 *
 * <p><b>Consistency.</b> A slot only ever serves bytes equal to the store's current bytes for its key:
 * <ul>
 *   <li>what is written was clean when it left RAM, and the writer got the chunk's stripe stamp at that moment
 *       ({@link ChunkCache}'s eviction listener runs inside Caffeine's removal, which a write's {@code becomeDirty}
 *       serializes with). The index entry is published only inside {@link Guard#whileClean} with that stamp, so a
 *       chunk that changed since is never published;</li>
 *   <li>the transition that makes a chunk dirty drops its entries ({@link #removeChunk}), inside the same lock;</li>
 *   <li>a slot's generation moves when the slot is handed to a new key, before its bytes are written; a reader checks
 *       it after reading, so it never serves a new occupant's bytes as the old key's;</li>
 *   <li>every read is checked against the CRC32C kept in memory: a mismatch drops the entry, is counted and logged
 *       once, and the caller reads the store instead.</li>
 * </ul>
 *
 * <p><b>Writes never slow a reader</b>: {@link #offer} only queues (bounded in bytes, dropped when full) and one
 * virtual thread writes. Thread safe; lock order: a volume's dirty-map bin → this tier's monitor.
 */
public final class DiskTier implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DiskTier.class);
  /** A slot: one granule (the store's checksum granule, what a small read fetches). */
  public static final int SLOT = FragmentReads.GRANULE;
  /** The smallest tier: two 4 MiB chunks' worth of slots. */
  public static final int MIN_SLOTS = 128;
  /** What waits to be written, at most: four 4 MiB chunks. */
  static final long QUEUE_BYTES = 16L << 20;
  static final String FILE_NAME = "bucketdisk-disk-cache.bin";

  /** How a volume lets the tier publish only what is still current (its {@link DirtyChunks}). */
  interface Guard {
    /** The chunk's stripe stamp now. */
    long stamp(long index);

    /** Runs {@code publish} inside the chunk's transition lock if it is clean and its stamp is {@code stamp}. */
    boolean whileClean(long index, long stamp, Runnable publish);
  }

  record Key(ChunkOwner owner, long index, int granule) {}

  /** Where a key's bytes are: the slot, its generation when written, their CRC32C and length. */
  record Slot(int slot, long generation, int crc, int length) {}

  /** A clean chunk ({@link ChunkBuffer}) or granule (byte[]) that left RAM, waiting to be written. */
  private record Pending(ChunkOwner owner, Guard guard, long index, int granule, Object value, int length, long stamp) {}

  private final Path file;
  private final FileChannel channel;
  private final int slots;
  private final long queueBytes;
  private final LinkedHashMap<Key, Slot> entries = new LinkedHashMap<>(1024, 0.75f, true);
  private final ArrayDeque<Integer> free = new ArrayDeque<>();
  private final AtomicLongArray generations;
  /** Bytes the entries hold; guarded by this. */
  private long used;
  private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
  private final AtomicLong queued = new AtomicLong();
  private final AtomicBoolean corruptionLogged = new AtomicBoolean();
  private final AtomicBoolean writeErrorLogged = new AtomicBoolean();
  private final ByteBuffer writeBuffer = ByteBuffer.allocateDirect(SLOT);
  private final @Nullable Thread writer;
  private volatile boolean closed;
  private volatile java.util.function.Consumer<Object> done = value -> {};
  private final LongAdder hits = new LongAdder();
  private final LongAdder misses = new LongAdder();
  private final LongAdder bytesRead = new LongAdder();
  private final LongAdder bytesWritten = new LongAdder();
  private final LongAdder evictions = new LongAdder();
  private final LongAdder dropped = new LongAdder();
  private final LongAdder stale = new LongAdder();
  private final LongAdder checksumFailures = new LongAdder();
  private final LongAdder writeErrors = new LongAdder();

  /**
   * Opens a tier of {@code bytes} (rounded down to whole slots) in directory {@code dir}: deletes and recreates its
   * file. Throws IllegalArgumentException with the fix when the directory is missing or not writable, the size is
   * below {@link #MIN_SLOTS} slots, or the file system has not that much free space; IOException when the file
   * cannot be created.
   */
  public static DiskTier open(Path dir, long bytes) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException(dir + " is not a directory: create it (or mount a volume there)");
    }
    if (!Files.isWritable(dir)) {
      throw new IllegalArgumentException(dir + " is not writable by this process: fix its permissions");
    }
    long n = bytes / SLOT;
    if (n < MIN_SLOTS || n > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("size " + bytes + " must be from " + (long) MIN_SLOTS * SLOT + " bytes to "
          + (long) Integer.MAX_VALUE * SLOT + " bytes");
    }
    Path f = dir.resolve(FILE_NAME);
    Files.deleteIfExists(f);
    long usable = Files.getFileStore(dir).getUsableSpace();
    if (usable < n * SLOT) {
      throw new IllegalArgumentException(dir + " has " + usable + " bytes free, less than the " + n * SLOT
          + " asked for: lower the size or free space");
    }
    return new DiskTier(f, (int) n, QUEUE_BYTES, true);
  }

  /** {@code background}: whether a virtual thread writes what is offered (tests call {@link #writePending}). */
  DiskTier(Path file, int slots, long queueBytes, boolean background) throws IOException {
    this.file = file;
    this.slots = slots;
    this.queueBytes = queueBytes;
    this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.READ, StandardOpenOption.WRITE);
    channel.truncate(0);
    // sized once: sparse until written, never larger than slots * SLOT
    channel.write(ByteBuffer.allocate(1), (long) slots * SLOT - 1);
    this.generations = new AtomicLongArray(slots);
    for (int i = 0; i < slots; i++) {
      free.push(slots - 1 - i);
    }
    this.writer = background ? Thread.ofVirtual().name("disk-tier-writer").start(this::writeLoop) : null;
  }

  // ---------------------------------------------------------------- filling

  /**
   * A clean chunk ({@code value} a {@link ChunkBuffer}, {@code granule} -1) or granule ({@code value} a byte[]) of
   * {@code owner} left RAM when its stripe stamp was {@code stamp}: queue it for writing, or drop it when the queue is
   * full. Never blocks; the caller may hold Caffeine's entry lock.
   */
  void offer(ChunkOwner owner, Guard guard, long index, int granule, Object value, int length, long stamp) {
    if (closed) {
      done.accept(value);
      return;
    }
    if (queued.addAndGet(length) > queueBytes) {
      queued.addAndGet(-length);
      dropped.increment();
      done.accept(value);
      return;
    }
    queue.add(new Pending(owner, guard, index, granule, value, length, stamp));
  }

  /** Tells {@code done} of every offered value once this tier is finished with it (written, dropped or stale). */
  void whenDone(java.util.function.Consumer<Object> done) {
    this.done = done;
  }

  private void writeLoop() {
    while (!closed) {
      try {
        write(queue.take());
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        log.warn("disk tier: write failed: {}", e.toString());
      }
    }
  }

  /** Writes everything queued now on this thread (tests; the tier was made without a writer thread). */
  void writePending() {
    Pending p;
    while ((p = queue.poll()) != null) {
      write(p);
    }
  }

  /** Writes {@code p}'s granules not held yet, then publishes them if the chunk's stamp still holds. */
  private void write(Pending p) {
    try {
      List<Key> keys = new ArrayList<>();
      List<Slot> written = new ArrayList<>();
      int first = p.granule() < 0 ? 0 : p.granule();
      int count = p.granule() < 0 ? (p.length() + SLOT - 1) / SLOT : 1;
      for (int g = first; g < first + count; g++) {
        Key key = new Key(p.owner(), p.index(), g);
        if (contains(key)) {
          continue;
        }
        Slot s = writeSlot(p, g - first);
        if (s == null) {
          break;
        }
        keys.add(key);
        written.add(s);
      }
      if (written.isEmpty()) {
        return;
      }
      boolean published = p.guard().whileClean(p.index(), p.stamp(), () -> {
        synchronized (this) {
          for (int i = 0; i < keys.size(); i++) {
            entries.put(keys.get(i), written.get(i));
            used += written.get(i).length();
          }
        }
      });
      if (!published) {
        stale.increment();
        synchronized (this) {
          written.forEach(s -> free.push(s.slot()));
        }
      }
    } finally {
      queued.addAndGet(-p.length());
      done.accept(p.value());
    }
  }

  /** Copies granule {@code g} of {@code p}'s value into a slot of its own; the slot, or null after a write error. */
  private @Nullable Slot writeSlot(Pending p, int g) {
    int slot = allocate();
    long generation = generations.incrementAndGet(slot);
    int length = Math.min(SLOT, p.length() - g * SLOT);
    ByteBuffer buf = writeBuffer.clear().limit(length);
    if (p.value() instanceof ChunkBuffer b) {
      b.copyTo(g * SLOT, length, buf);
    } else {
      buf.put((byte[]) p.value(), 0, length);
    }
    buf.flip();
    CRC32C crc = new CRC32C();
    crc.update(buf.duplicate());
    try {
      long pos = (long) slot * SLOT;
      while (buf.hasRemaining()) {
        pos += channel.write(buf, pos);
      }
    } catch (IOException e) {
      writeErrors.increment();
      if (writeErrorLogged.compareAndSet(false, true)) {
        log.warn("disk tier {}: write failed, the chunk is not kept (logged once): {}", file, e.toString());
      }
      synchronized (this) {
        free.push(slot);
      }
      return null;
    }
    bytesWritten.add(length);
    return new Slot(slot, generation, (int) crc.getValue(), length);
  }

  /** A free slot, or the least recently used key's. */
  private synchronized int allocate() {
    Integer s = free.poll();
    if (s != null) {
      return s;
    }
    Iterator<Map.Entry<Key, Slot>> it = entries.entrySet().iterator();
    if (!it.hasNext()) {
      throw new IllegalStateException("disk tier: every slot is being written");
    }
    Slot eldest = it.next().getValue();
    it.remove();
    used -= eldest.length();
    evictions.increment();
    return eldest.slot();
  }

  private synchronized boolean contains(Key key) {
    return entries.containsKey(key);
  }

  // ---------------------------------------------------------------- reading

  /** Where {@code key} is (a use: it becomes most recently used), or null. */
  synchronized @Nullable Slot lookup(Key key) {
    return entries.get(key);
  }

  /**
   * Reads granule {@code granule} of chunk {@code index} of {@code owner} into {@code dst} (its length bytes at its
   * position) if held and intact; whether it did. A miss leaves {@code dst}'s position where it was.
   */
  boolean read(ChunkOwner owner, long index, int granule, ByteBuffer dst) {
    Key key = new Key(owner, index, granule);
    Slot s = lookup(key);
    if (s == null || s.length() != dst.remaining()) {
      misses.increment();
      return false;
    }
    return readSlot(key, s, dst);
  }

  /**
   * Reads the {@code length} bytes of chunk {@code index} into {@code dst} if every granule is held and intact;
   * whether it did. Either the whole chunk or nothing counts as a hit.
   */
  boolean readChunk(ChunkOwner owner, long index, byte[] dst, int length) {
    int count = (length + SLOT - 1) / SLOT;
    Slot[] found = new Slot[count];
    synchronized (this) {
      for (int g = 0; g < count; g++) {
        found[g] = entries.get(new Key(owner, index, g));
        if (found[g] == null) {
          misses.increment();
          return false;
        }
      }
    }
    for (int g = 0; g < count; g++) {
      int n = Math.min(SLOT, length - g * SLOT);
      if (found[g].length() != n || !readSlot(new Key(owner, index, g), found[g], ByteBuffer.wrap(dst, g * SLOT, n))) {
        return false;
      }
    }
    return true;
  }

  /** Reads {@code s} for {@code key} into {@code dst}; serves it only if the slot was not reused and its CRC holds. */
  boolean readSlot(Key key, Slot s, ByteBuffer dst) {
    int start = dst.position();
    ByteBuffer window = dst.duplicate().limit(start + s.length());
    try {
      long pos = (long) s.slot() * SLOT;
      while (window.hasRemaining()) {
        int n = channel.read(window, pos);
        if (n < 0) {
          throw new IOException("end of file at slot " + s.slot());
        }
        pos += n;
      }
    } catch (IOException e) {
      misses.increment();
      log.debug("disk tier: read of slot {} failed: {}", s.slot(), e.toString());
      return false;
    }
    if (generations.get(s.slot()) != s.generation()) {
      misses.increment();
      return false;
    }
    CRC32C crc = new CRC32C();
    crc.update(dst.duplicate().position(start).limit(start + s.length()));
    if ((int) crc.getValue() != s.crc()) {
      checksumFailures.increment();
      misses.increment();
      synchronized (this) {
        if (entries.remove(key, s)) {
          release(s);
        }
      }
      if (corruptionLogged.compareAndSet(false, true)) {
        log.warn("disk tier {}: slot {} failed its CRC32C check; read from the store instead (logged once; see "
            + "the checksum-failure counter)", file, s.slot());
      }
      return false;
    }
    dst.position(start + s.length());
    hits.increment();
    bytesRead.add(s.length());
    return true;
  }

  // ---------------------------------------------------------------- dropping

  /** Drops the {@code granules} granules of chunk {@code index} of {@code owner} (it becomes dirty). */
  synchronized void removeChunk(ChunkOwner owner, long index, int granules) {
    if (entries.isEmpty()) {
      return;
    }
    for (int g = 0; g < granules; g++) {
      Slot s = entries.remove(new Key(owner, index, g));
      if (s != null) {
        release(s);
      }
    }
  }

  /** Drops every entry of {@code owner} (its volume closed). */
  synchronized void invalidate(ChunkOwner owner) {
    Iterator<Map.Entry<Key, Slot>> it = entries.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<Key, Slot> e = it.next();
      if (e.getKey().owner() == owner) {
        it.remove();
        release(e.getValue());
      }
    }
  }

  /** Returns a removed entry's slot to the free list. */
  private synchronized void release(Slot s) {
    used -= s.length();
    free.push(s.slot());
  }

  /** Stops the writer and deletes the file. */
  @Override
  public void close() throws IOException {
    closed = true;
    if (writer != null) {
      writer.interrupt();
    }
    channel.close();
    Files.deleteIfExists(file);
  }

  // ---------------------------------------------------------------- measures

  /** Bytes of the file: the bound. */
  public long capacityBytes() {
    return (long) slots * SLOT;
  }

  /** Bytes held by index entries now (at most {@link #capacityBytes}). */
  public synchronized long usedBytes() {
    return used;
  }

  /** Slots held by index entries now. */
  synchronized int usedSlots() {
    return entries.size();
  }

  /** Granules served from disk. */
  public long hits() {
    return hits.sum();
  }

  /** Lookups that found nothing usable (absent, slot reused, checksum failure, read error). */
  public long misses() {
    return misses.sum();
  }

  public long bytesRead() {
    return bytesRead.sum();
  }

  public long bytesWritten() {
    return bytesWritten.sum();
  }

  /** Entries pushed out, least recently used first, to make room. */
  public long evictions() {
    return evictions.sum();
  }

  /** Chunks and granules not written because the write queue was full. */
  public long dropped() {
    return dropped.sum();
  }

  /** Writes not published because their chunk changed while they were queued or written. */
  public long stale() {
    return stale.sum();
  }

  /** Reads whose bytes failed the slot's CRC32C (served from the store instead). */
  public long checksumFailures() {
    return checksumFailures.sum();
  }

  public long writeErrors() {
    return writeErrors.sum();
  }
}
