package io.bucketdisk.store.object;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.StoreMetrics.Op;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * An {@link ObjectStore} in a local directory: the embedded default ({@code file:///dir}).
 *
 * <p><b>Design.</b> Object {@code a/b} is the file {@code <root>/a/b.o} (the suffix lets {@code a} and {@code a/b}
 * both exist). A PUT writes {@code <root>/.tmp/<random>}, fsyncs it, renames it over the target and fsyncs the
 * directory, so a PUT that returned survives a crash and readers see the old or the new object, never a mix. The
 * ETag is a generation made of the file's inode, modification time and size: a rename always installs a new inode,
 * so every PUT changes it.
 *
 * <p><b>Conditional writes across processes.</b> The check-and-rename of a PUT and a DELETE run under a striped
 * lock: a JVM lock plus a POSIX byte-range lock on byte {@code stripe} of {@code <root>/.lock}, so two processes
 * sharing the directory cannot both win a conditional write.
 *
 * <p>LIST walks the directory once per listing and serves later pages from a small cache keyed by the token;
 * deletes remove emptied directories best-effort. Thread safe.
 */
public final class DirectoryObjectStore implements ObjectStore {
  private static final String SUFFIX = ".o";
  private static final int STRIPES = 64;

  private final Path root;
  private final boolean fsync;
  private final Path tmp;
  private volatile FileChannel lockChannel;
  private volatile boolean closed;
  private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];
  private final StoreMetrics metrics;
  private final Retrier retrier;
  private final Map<String, List<ObjectInfo>> listings = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, List<ObjectInfo>> eldest) {
      return size() > 16;
    }
  };

  /** Opens (creating if needed) a durable store rooted at {@code root}. */
  public DirectoryObjectStore(Path root, StoreMetrics metrics) throws ObjectStoreException {
    this(root, true, metrics);
  }

  /**
   * Opens (creating if needed) a store rooted at {@code root}; {@code fsync == false} skips every fsync, so a crash
   * may lose acknowledged writes (for tests and benchmarks only).
   */
  public DirectoryObjectStore(Path root, boolean fsync, StoreMetrics metrics) throws ObjectStoreException {
    this.fsync = fsync;
    this.root = root.toAbsolutePath().normalize();
    this.tmp = this.root.resolve(".tmp");
    this.metrics = metrics;
    this.retrier = new Retrier(RetryPolicy.none(), metrics, DirectoryObjectStore::classify);
    for (int i = 0; i < STRIPES; i++) {
      stripes[i] = new ReentrantLock();
    }
    try {
      Files.createDirectories(tmp);
      lockChannel = openLockFile();
      removeStaleTempFiles();
    } catch (IOException e) {
      throw new ObjectStoreException(Kind.PERMANENT, 0,
          "cannot use " + this.root + " as a store directory (" + e + "); check that it is writable", e);
    }
  }

  public Path root() {
    return root;
  }

  @Override
  public Optional<ObjectData> get(String key) throws ObjectStoreException {
    Path file = file(key);
    return retrier.call(Op.GET, key, () -> {
      // the ETag must describe the bytes returned (callers use it for If-Match): read it before and after, and
      // start over when a concurrent PUT replaced the file in between
      for (int attempt = 0; ; attempt++) {
        try {
          String before = etag(file);
          byte[] bytes = Files.readAllBytes(file);
          String after = etag(file);
          if (before.equals(after)) {
            metrics.bytesDown(bytes.length);
            return Optional.of(new ObjectData(bytes, after));
          }
        } catch (NoSuchFileException e) {
          return Optional.empty();
        }
        if (attempt >= 100) {
          throw new ObjectStoreException(Kind.TRANSIENT, 0, "GET " + key + ": changing too fast to read");
        }
      }
    });
  }

  @Override
  public int read(String key, long offset, ByteBuffer dst) throws ObjectStoreException {
    return read(key, offset, new ByteBuffer[] {dst});
  }

  @Override
  public int read(String key, long offset, ByteBuffer[] dsts) throws ObjectStoreException {
    Path file = file(key);
    long length = ByteBuffers.remaining(dsts);
    int[] starts = ByteBuffers.positions(dsts);
    return retrier.call(Op.GET, key, () -> {
      ByteBuffers.reposition(dsts, starts);
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
        ch.position(offset);
        long n = 0;
        while (n < length) {
          long r = ch.read(dsts);
          if (r < 0) {
            break;
          }
          n += r;
        }
        metrics.bytesDown(n);
        return (int) n;
      } catch (NoSuchFileException e) {
        return -1;
      }
    });
  }

  @Override
  public String put(String key, ByteBuffer data, WriteCondition condition) throws ObjectStoreException {
    return put(key, new ByteBuffer[] {data}, condition);
  }

  @Override
  public String put(String key, ByteBuffer[] data, WriteCondition condition) throws ObjectStoreException {
    Path file = file(key);
    long length = ByteBuffers.remaining(data);
    return retrier.call(Op.PUT, key, () -> {
      Path temp = tmp.resolve(UUID.randomUUID() + ".tmp");
      try {
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
          ByteBuffer[] src = ByteBuffers.duplicates(data);
          for (long n = 0; n < length; ) {
            n += ch.write(src);
          }
          if (fsync) {
            ch.force(true);
          }
        }
        String etag;
        int stripe = stripe(key);
        try (Held _ = lock(stripe)) {
          check(key, file, condition);
          etag = install(temp, file);
        } finally {
          stripes[stripe].unlock();
        }
        metrics.bytesUp(length);
        return etag;
      } finally {
        Files.deleteIfExists(temp);
      }
    });
  }

  private void check(String key, Path file, WriteCondition condition) throws IOException {
    if (!condition.isConditional()) {
      return;
    }
    String current = Files.exists(file) ? etag(file) : null;
    if (condition.createOnly() && current != null) {
      throw new ObjectStoreException(Kind.CONFLICT, 412, "PUT " + key + ": exists (If-None-Match: *)");
    }
    if (condition.matchEtag() != null && !condition.matchEtag().equals(current)) {
      throw new ObjectStoreException(Kind.CONFLICT, current == null ? 404 : 412,
          "PUT " + key + ": ETag is " + current + ", not " + condition.matchEtag() + " (If-Match)");
    }
  }

  private String install(Path temp, Path file) throws IOException {
    for (int attempt = 0; ; attempt++) {
      try {
        Files.createDirectories(file.getParent());
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        break;
      } catch (NoSuchFileException e) {
        // a concurrent delete removed the (empty) parent directory between the two calls
        if (attempt >= 3) {
          throw e;
        }
      } catch (AtomicMoveNotSupportedException e) {
        throw new ObjectStoreException(Kind.PERMANENT, 0, "the store directory does not support atomic rename", e);
      }
    }
    fsyncDirectory(file.getParent());
    return etag(file);
  }

  @Override
  public Optional<ObjectInfo> head(String key) throws ObjectStoreException {
    Path file = file(key);
    return retrier.call(Op.HEAD, key, () -> {
      try {
        return Optional.of(new ObjectInfo(key, Files.size(file), etag(file)));
      } catch (NoSuchFileException e) {
        return Optional.empty();
      }
    });
  }

  @Override
  public void delete(String key) throws ObjectStoreException {
    Path file = file(key);
    retrier.call(Op.DELETE, key, () -> {
      remove(key, file);
      return null;
    });
  }

  @Override
  public void delete(Collection<String> keys) throws ObjectStoreException {
    List<Path> files = new ArrayList<>(keys.size());
    for (String key : keys) {
      files.add(file(key));
    }
    retrier.call(Op.DELETE, keys.size() + " keys", () -> {
      java.util.Set<Path> dirs = new java.util.LinkedHashSet<>();
      int i = 0;
      for (String key : keys) {
        Path file = files.get(i++);
        if (unlink(key, file)) {
          dirs.add(file.getParent());
        }
      }
      for (Path d : dirs) {
        fsyncDirectory(d);
      }
      for (Path d : dirs) {
        pruneEmptyDirectories(d);
      }
      return null;
    });
  }

  private void remove(String key, Path file) throws IOException {
    if (unlink(key, file)) {
      fsyncDirectory(file.getParent());
      pruneEmptyDirectories(file.getParent());
    }
  }

  private boolean unlink(String key, Path file) throws IOException {
    int stripe = stripe(key);
    try (Held _ = lock(stripe)) {
      return Files.deleteIfExists(file);
    } finally {
      stripes[stripe].unlock();
    }
  }

  private void pruneEmptyDirectories(Path dir) {
    for (Path d = dir; d != null && d.startsWith(root) && !d.equals(root); d = d.getParent()) {
      try {
        Files.delete(d);
      } catch (DirectoryNotEmptyException | NoSuchFileException e) {
        return;
      } catch (IOException e) {
        return;
      }
    }
  }

  @Override
  public ListPage list(String prefix, @Nullable String token, int maxKeys) throws ObjectStoreException {
    if (maxKeys < 1 || maxKeys > 1000) {
      throw new IllegalArgumentException("maxKeys must be 1..1000, not " + maxKeys);
    }
    return retrier.call(Op.LIST, prefix, () -> {
      List<ObjectInfo> all = null;
      String startAfter = null;
      if (token != null) {
        int colon = token.indexOf(':');
        if (colon < 0) {
          throw new ObjectStoreException(Kind.PERMANENT, 400, "bad list token");
        }
        startAfter = token.substring(colon + 1);
        synchronized (listings) {
          all = listings.get(token.substring(0, colon) + "\0" + prefix);
        }
      }
      String id;
      if (all == null) {
        all = walk(prefix);
        id = UUID.randomUUID().toString();
      } else {
        id = token.substring(0, token.indexOf(':'));
      }
      int from = 0;
      if (startAfter != null) {
        from = lowerBound(all, startAfter);
      }
      int to = Math.min(all.size(), from + maxKeys);
      List<ObjectInfo> page = all.subList(from, to);
      if (to >= all.size()) {
        synchronized (listings) {
          listings.remove(id + "\0" + prefix);
        }
        return new ListPage(page, null);
      }
      synchronized (listings) {
        listings.put(id + "\0" + prefix, all);
      }
      return new ListPage(page, id + ":" + page.getLast().key());
    });
  }

  /** Index of the first entry whose key is greater than {@code after}. */
  private static int lowerBound(List<ObjectInfo> all, String after) {
    int lo = 0;
    int hi = all.size();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (compareUtf8(all.get(mid).key(), after) <= 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  private List<ObjectInfo> walk(String prefix) throws IOException {
    int slash = prefix.lastIndexOf('/');
    Path start = slash < 0 ? root : root.resolve(prefix.substring(0, slash));
    checkInside(start, prefix);
    if (!Files.isDirectory(start)) {
      return List.of();
    }
    List<ObjectInfo> out = new ArrayList<>();
    try (Stream<Path> s = Files.walk(start)) {
      s.forEach(p -> {
        String name = p.getFileName().toString();
        if (!name.endsWith(SUFFIX) || p.startsWith(tmp)) {
          return;
        }
        String rel = root.relativize(p).toString();
        String key = rel.substring(0, rel.length() - SUFFIX.length());
        if (!key.startsWith(prefix)) {
          return;
        }
        try {
          out.add(new ObjectInfo(key, Files.size(p), etag(p)));
        } catch (NoSuchFileException e) {
          // deleted while walking
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
    out.sort((a, b) -> compareUtf8(a.key(), b.key()));
    return out;
  }

  /** S3 orders keys by their UTF-8 bytes; for the ASCII keys of the layout this is String order. */
  static int compareUtf8(String a, String b) {
    return java.util.Arrays.compareUnsigned(a.getBytes(java.nio.charset.StandardCharsets.UTF_8),
        b.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  @Override
  public boolean conditionalWritesHonoured() {
    return true;
  }

  @Override
  public String describe() {
    return "file://" + root;
  }

  @Override
  public void close() {
    closed = true;
    try {
      lockChannel.close();
    } catch (IOException e) {
      // nothing left to release
    }
  }

  private Path file(String key) {
    if (key.isEmpty() || key.startsWith("/") || key.endsWith("/") || key.contains("//") || key.contains("\0")) {
      throw new IllegalArgumentException("invalid object key '" + key + "'");
    }
    Path p = root.resolve(key + SUFFIX).normalize();
    checkInside(p, key);
    return p;
  }

  private void checkInside(Path p, String key) {
    if (!p.startsWith(root) || p.startsWith(tmp)) {
      throw new IllegalArgumentException("object key '" + key + "' escapes the store directory");
    }
  }

  private static String etag(Path file) throws IOException {
    Map<String, Object> a = Files.readAttributes(file, "unix:ino,size,lastModifiedTime");
    FileTime mtime = (FileTime) a.get("lastModifiedTime");
    long nanos = mtime.to(java.util.concurrent.TimeUnit.NANOSECONDS);
    return Long.toHexString((Long) a.get("ino")) + "-" + Long.toHexString(nanos) + "-"
        + Long.toHexString((Long) a.get("size"));
  }

  /**
   * Takes stripe {@code stripe}: the JVM lock, then the byte-range lock in the lock file. The caller unlocks the JVM
   * lock in a finally block, also when this throws. An interrupt closes the (interruptible) lock channel of every
   * thread, so a closed channel is reopened once and the lock retried.
   */
  private Held lock(int stripe) throws IOException {
    stripes[stripe].lock();
    for (int attempt = 0; ; attempt++) {
      FileChannel ch = lockChannel;
      try {
        return new Held(ch.lock(stripe, 1, false));
      } catch (java.nio.channels.ClosedChannelException e) {
        if (attempt > 0 || Thread.currentThread().isInterrupted() || closed) {
          throw e;
        }
        synchronized (this) {
          if (lockChannel == ch && !closed) {
            lockChannel = openLockFile();
          }
        }
      }
    }
  }

  /** A held byte-range lock; releasing it on a channel closed meanwhile is fine (closing released it). */
  private record Held(FileLock lock) implements AutoCloseable {
    @Override
    public void close() throws IOException {
      try {
        lock.release();
      } catch (java.nio.channels.ClosedChannelException e) {
        // the channel was closed by an interrupt elsewhere; the lock went with it
      }
    }
  }

  /** Temp files of PUTs that a crash interrupted; an hour old means no live writer still owns them. */
  private void removeStaleTempFiles() throws IOException {
    long cutoff = System.currentTimeMillis() - java.util.concurrent.TimeUnit.HOURS.toMillis(1);
    try (Stream<Path> s = Files.list(tmp)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        try {
          if (Files.getLastModifiedTime(p).toMillis() < cutoff) {
            Files.deleteIfExists(p);
          }
        } catch (NoSuchFileException e) {
          // removed meanwhile
        }
      }
    }
  }

  private FileChannel openLockFile() throws IOException {
    return FileChannel.open(root.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.READ);
  }

  private static int stripe(String key) {
    return Math.floorMod(key.hashCode(), STRIPES);
  }

  private void fsyncDirectory(Path dir) throws IOException {
    if (!fsync) {
      return;
    }
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (NoSuchFileException e) {
      // pruned concurrently; nothing to sync
    }
  }

  private static ObjectStoreException classify(Op op, String key, Exception e) {
    if (e instanceof FileAlreadyExistsException || e instanceof NoSuchFileException) {
      return new ObjectStoreException(Kind.TRANSIENT, 0, op + " " + key + ": " + e, e);
    }
    return new ObjectStoreException(Kind.PERMANENT, 0, op + " " + key + ": " + e, e);
  }
}
