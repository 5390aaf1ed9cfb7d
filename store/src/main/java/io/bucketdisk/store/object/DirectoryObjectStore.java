package io.bucketdisk.store.object;

import io.bucketdisk.store.StoreException.Kind;
import io.bucketdisk.store.StoreMetrics;
import io.bucketdisk.store.StoreMetrics.Op;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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

  private final Path root;
  private final Path tmp;
  private final DurableFiles files;
  private final StripedFileLock locks;
  private final DirectoryListing listing = new DirectoryListing(this::walk);
  private final StoreMetrics metrics;
  private final Retrier retrier;

  /** Opens (creating if needed) a durable store rooted at {@code root}. */
  public DirectoryObjectStore(Path root, StoreMetrics metrics) throws ObjectStoreException {
    this(root, true, metrics);
  }

  /**
   * Opens (creating if needed) a store rooted at {@code root}; {@code fsync == false} skips every fsync, so a crash
   * may lose acknowledged writes (for tests and benchmarks only).
   */
  public DirectoryObjectStore(Path root, boolean fsync, StoreMetrics metrics) throws ObjectStoreException {
    this.root = root.toAbsolutePath().normalize();
    this.tmp = this.root.resolve(".tmp");
    this.files = new DurableFiles(this.root, tmp, fsync);
    this.metrics = metrics;
    this.retrier = new Retrier(RetryPolicy.none(), metrics, DirectoryObjectStore::classify);
    try {
      Files.createDirectories(tmp);
      locks = new StripedFileLock(this.root.resolve(".lock"));
      files.removeStaleTempFiles();
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
      Path temp = files.newTemp();
      try {
        files.write(temp, data, length);
        String etag;
        try (var _ = locks.lock(key)) {
          check(key, file, condition);
          files.install(temp, file);
          etag = etag(file);
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
    List<Path> paths = new ArrayList<>(keys.size());
    for (String key : keys) {
      paths.add(file(key));
    }
    retrier.call(Op.DELETE, keys.size() + " keys", () -> {
      java.util.Set<Path> dirs = new java.util.LinkedHashSet<>();
      int i = 0;
      for (String key : keys) {
        Path file = paths.get(i++);
        if (unlink(key, file)) {
          dirs.add(file.getParent());
        }
      }
      for (Path d : dirs) {
        files.fsyncDirectory(d);
      }
      for (Path d : dirs) {
        files.pruneEmptyDirectories(d);
      }
      return null;
    });
  }

  private void remove(String key, Path file) throws IOException {
    if (unlink(key, file)) {
      files.fsyncDirectory(file.getParent());
      files.pruneEmptyDirectories(file.getParent());
    }
  }

  private boolean unlink(String key, Path file) throws IOException {
    try (var _ = locks.lock(key)) {
      return Files.deleteIfExists(file);
    }
  }

  @Override
  public ListPage list(String prefix, @Nullable String token, int maxKeys) throws ObjectStoreException {
    if (maxKeys < 1 || maxKeys > 1000) {
      throw new IllegalArgumentException("maxKeys must be 1..1000, not " + maxKeys);
    }
    return retrier.call(Op.LIST, prefix, () -> listing.page(prefix, token, maxKeys));
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
    out.sort((a, b) -> DirectoryListing.compareUtf8(a.key(), b.key()));
    return out;
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
    locks.close();
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

  private static ObjectStoreException classify(Op op, String key, Exception e) {
    if (e instanceof FileAlreadyExistsException || e instanceof NoSuchFileException) {
      return new ObjectStoreException(Kind.TRANSIENT, 0, op + " " + key + ": " + e, e);
    }
    return new ObjectStoreException(Kind.PERMANENT, 0, op + " " + key + ": " + e, e);
  }
}
