package io.bucketdisk.store.object;

import io.bucketdisk.store.StoreException.Kind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The files of a {@link DirectoryObjectStore} below {@code root}, written as its design note says: in full to a temp
 * file in {@code tmp}, fsynced, renamed over the target, the directory fsynced. With {@code fsync == false} every
 * fsync is skipped. Thread safe (it holds only the paths). The caller's buffers are only read (their positions do
 * not move). Throws the file system's {@link IOException}, and an {@link ObjectStoreException} (PERMANENT) when the
 * directory cannot rename atomically.
 */
final class DurableFiles {
  private final Path root;
  private final Path tmp;
  private final boolean fsync;

  DurableFiles(Path root, Path tmp, boolean fsync) {
    this.root = root;
    this.tmp = tmp;
    this.fsync = fsync;
  }

  /** A fresh temp file name; the caller deletes the file when it was not installed. */
  Path newTemp() {
    return tmp.resolve(UUID.randomUUID() + ".tmp");
  }

  /** Creates {@code temp} holding the {@code length} remaining bytes of {@code data}, fsynced. */
  void write(Path temp, ByteBuffer[] data, long length) throws IOException {
    try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ByteBuffer[] src = ByteBuffers.duplicates(data);
      for (long n = 0; n < length; ) {
        n += ch.write(src);
      }
      if (fsync) {
        ch.force(true);
      }
    }
  }

  /** Renames {@code temp} over {@code file} (creating its directories) and fsyncs the directory. */
  void install(Path temp, Path file) throws IOException {
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
  }

  void fsyncDirectory(Path dir) throws IOException {
    if (!fsync) {
      return;
    }
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (NoSuchFileException e) {
      // pruned concurrently; nothing to sync
    }
  }

  /** Removes {@code dir} and its parents below {@code root} while they are empty; best-effort. */
  void pruneEmptyDirectories(Path dir) {
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

  /** Temp files of PUTs that a crash interrupted; an hour old means no live writer still owns them. */
  void removeStaleTempFiles() throws IOException {
    long cutoff = System.currentTimeMillis() - TimeUnit.HOURS.toMillis(1);
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
}
