package io.bucketdisk.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What is staged on this node, one JSON file per volume in the state directory, written atomically (temp
 * file, fsync, rename) so a crash leaves either the old or the new record. File names are the hex of the
 * volume id, so any id is safe. Thread-safe; callers serialise changes to one volume.
 */
final class StagingState {
  private final Path dir;
  private final ObjectMapper json = new ObjectMapper();
  private final Map<String, StagedVolume> volumes = new ConcurrentHashMap<>();

  StagingState(Path dir) throws IOException {
    this.dir = dir;
    Files.createDirectories(dir);
    try (var files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".json")).toList()) {
        var v = json.readValue(f.toFile(), StagedVolume.class);
        volumes.put(v.volumeId(), v);
      }
    }
  }

  Optional<StagedVolume> get(String volumeId) {
    return Optional.ofNullable(volumes.get(volumeId));
  }

  Optional<StagedVolume> byDevice(int index) {
    return volumes.values().stream().filter(v -> v.deviceIndex() == index).findFirst();
  }

  List<StagedVolume> all() {
    return List.copyOf(volumes.values());
  }

  void put(StagedVolume v) throws IOException {
    Path target = file(v.volumeId());
    Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
    try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.TRUNCATE_EXISTING, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(json.writerWithDefaultPrettyPrinter().writeValueAsBytes(v)));
      ch.force(true);
    }
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
    }
    volumes.put(v.volumeId(), v);
  }

  void remove(String volumeId) throws IOException {
    Files.deleteIfExists(file(volumeId));
    volumes.remove(volumeId);
  }

  private Path file(String volumeId) {
    return dir.resolve(HexFormat.of().formatHex(volumeId.getBytes(StandardCharsets.UTF_8)) + ".json");
  }
}
