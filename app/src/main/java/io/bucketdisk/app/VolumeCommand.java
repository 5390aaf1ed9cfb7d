package io.bucketdisk.app;

import io.bucketdisk.store.object.ObjectStores;
import io.bucketdisk.common.size.ByteSize;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.bucketdisk.controller.GatewayClient;
import io.bucketdisk.controller.SnapshotManager;
import io.bucketdisk.controller.VolumeError;
import io.bucketdisk.controller.VolumeManager;
import io.bucketdisk.controller.VolumeParameters;
import io.bucketdisk.store.StoreException;
import io.bucketdisk.store.VolumeCatalog;
import io.bucketdisk.store.VolumeIds;
import io.bucketdisk.store.layout.Lease;
import io.bucketdisk.store.layout.SnapshotRecord;
import io.bucketdisk.store.layout.VolumeManifest;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code bucketdisk volume …}: the controller's volume lifecycle from a shell, with the same rules and idempotency as
 * the CSI calls (it uses the same {@link VolumeManager}). Tables for humans, {@code --json} for scripts.
 *
 * <p>Unlike CSI ListVolumes, {@code ls} also shows ephemeral inline volumes (manifest {@code csi.ephemeral=true}),
 * marked as such, because an operator must be able to find the ones a lost node left behind. A volume counts as in
 * use while its lease is live, with the store's clock-skew allowance added (the rule a new owner follows before a
 * takeover); {@code rm} refuses such a volume, and the store re-checks the lease inside its conditional delete. A
 * published volume is in use too (an ephemeral one is published to its node by the gateway, so it stays protected
 * while the node's gateway restarts and holds no lease); {@code rm --force} removes an ephemeral volume's publication
 * of a node gone for good, then deletes it, still only with no live lease.
 */
@Command(
    name = "volume",
    mixinStandardHelpOptions = true,
    description = "Create, list, inspect, snapshot, expand and remove volumes in a store.",
    subcommands = {VolumeCommand.Create.class, VolumeCommand.Ls.class, VolumeCommand.Inspect.class,
        VolumeCommand.Rm.class, VolumeCommand.Snapshot.class, VolumeCommand.Expand.class})
public final class VolumeCommand {
  /** Keys kubelet passes to an inline volume with podInfoOnMount; the node records them in the manifest. */
  static final String POD_NAME = "csi.storage.k8s.io/pod.name";
  static final String POD_NAMESPACE = "csi.storage.k8s.io/pod.namespace";
  static final String POD_UID = "csi.storage.k8s.io/pod.uid";

  /** Options every volume subcommand takes. */
  static final class StoreOptions {
    @Option(names = "--store", required = true, paramLabel = "URL",
        description = "Where volumes live: file:///abs/dir or s3://bucket/prefix?endpoint=...")
    String store = "";

    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;
  }

  /** Opens the catalog of a store URL, turning bad URLs and unreachable stores into one-line user errors. */
  static VolumeCatalog openCatalog(String url) {
    try {
      return VolumeCatalog.open(ControllerCommand.uri(url), ControllerCommand.options());
    } catch (IllegalArgumentException e) {
      throw new UserError("--store: " + e.getMessage());
    } catch (StoreException e) {
      throw new UserError("--store " + ObjectStores.redact(url) + ": " + e.getMessage());
    }
  }

  /** Runs a body against the managers, mapping domain and store failures to user errors. */
  abstract static class Sub implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin StoreOptions opts = new StoreOptions();
    /** The open catalog, set for the duration of {@link #run}. */
    @Nullable VolumeCatalog catalog;

    abstract Object run(VolumeManager volumes, SnapshotManager snapshots, PrintWriter out) throws IOException;

    @Override
    public final Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      try (VolumeCatalog catalog = openCatalog(opts.store);
          GatewayClient gateways = new GatewayClient(Duration.ofSeconds(60))) {
        this.catalog = catalog;
        var volumes = new VolumeManager(catalog, gateways);
        var snapshots = new SnapshotManager(volumes, gateways);
        Object result = run(volumes, snapshots, out);
        if (opts.json && result != null) {
          out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(result));
        }
        out.flush();
        return 0;
      } catch (VolumeError e) {
        throw new UserError(e.getMessage());
      } catch (StoreException e) {
        throw new UserError("store: " + e.getMessage());
      } finally {
        this.catalog = null;
      }
    }

    final VolumeCatalog catalog() {
      if (catalog == null) {
        throw new IllegalStateException("catalog used outside run()");
      }
      return catalog;
    }

    /** True while {@code m}'s lease may still be live anywhere, clock skew included. */
    final boolean inUse(VolumeManifest m) {
      Lease l = m.lease();
      var o = catalog().options();
      return l != null && l.mayBeHeldAt(o.clock().millis(), o.clockSkew());
    }
  }

  @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a volume (idempotent on NAME).")
  static final class Create extends Sub {
    @Parameters(index = "0", paramLabel = "NAME") String name = "";
    @Option(names = "--size", defaultValue = "1Gi", description = "Size, bytes or with Ki/Mi/Gi/Ti (default 1Gi).")
    String size = "1Gi";
    @Option(names = "--chunk-size", description = "Chunk size, a power of two from 64Ki to 64Mi (default 4Mi).")
    @Nullable String chunkSize;
    @Option(names = "--read-ahead", description = "Chunks to read ahead on sequential reads (default 0).")
    @Nullable Integer readAhead;
    @Option(names = "--fs-type", description = "Make it a mount volume with ext4 or xfs (default: block).")
    @Nullable String fsType;
    @Option(names = "--from-snapshot", paramLabel = "ID", description = "Restore from this snapshot (no copy).")
    @Nullable String fromSnapshot;
    @Option(names = "--from-volume", paramLabel = "ID", description = "Clone this volume (no copy).")
    @Nullable String fromVolume;

    @Override
    Object run(VolumeManager volumes, SnapshotManager snapshots, PrintWriter out) throws IOException {
      if (fromSnapshot != null && fromVolume != null) {
        throw new UserError("use either --from-snapshot or --from-volume, not both");
      }
      long bytes = parseSize(size);
      var params = new LinkedHashMap<String, String>();
      if (chunkSize != null) {
        params.put(VolumeParameters.CHUNK_SIZE, chunkSize);
      }
      if (readAhead != null) {
        params.put(VolumeParameters.READ_AHEAD, readAhead.toString());
      }
      VolumeManager.Source source = fromSnapshot != null
          ? new VolumeManager.Source(VolumeManager.Source.Kind.SNAPSHOT, fromSnapshot)
          : fromVolume != null ? new VolumeManager.Source(VolumeManager.Source.Kind.VOLUME, fromVolume) : null;
      var m = volumes.create(new VolumeManager.CreateRequest(name, bytes, 0, params, fsType,
          fsType == null ? "block" : "mount", source));
      if (!opts.json) {
        volumeTable(out, List.of(m), this::inUse);
      }
      return view(m);
    }
  }

  @Command(name = "ls", aliases = "list", mixinStandardHelpOptions = true,
      description = "List volumes, ephemeral inline ones included (or snapshots).")
  static final class Ls extends Sub {
    /** Manifests read per store LIST page; the listing stops after {@link #MAX_PAGES} pages. */
    private static final int PAGE = 1000;
    private static final int MAX_PAGES = 100_000;

    @Option(names = "--snapshots", description = "List snapshots instead of volumes.") boolean snaps;
    @Option(names = "--volume", paramLabel = "ID", description = "With --snapshots: only this volume's.")
    @Nullable String volume;
    @Option(names = "--ephemeral", description = "Only ephemeral inline volumes (made by nodes for pods' csi: volumes).")
    boolean ephemeral;

    @Override
    Object run(VolumeManager volumes, SnapshotManager snapshots, PrintWriter out) throws IOException {
      if (snaps && ephemeral) {
        throw new UserError("--ephemeral lists volumes; it does not go with --snapshots");
      }
      if (snaps) {
        var list = snapshots.list(null, volume, 0, "").items();
        if (!opts.json) {
          snapshotTable(out, list);
        }
        return list.stream().map(VolumeCommand::view).toList();
      }
      var list = new ArrayList<VolumeManifest>();
      String token = null;
      for (int pages = 0; pages < MAX_PAGES; pages++) {
        var page = catalog().list(PAGE, token);
        for (var m : page.items()) {
          if (!ephemeral || VolumeIds.isEphemeral(m)) {
            list.add(m);
          }
        }
        token = page.nextToken();
        if (token == null) {
          break;
        }
      }
      if (!opts.json) {
        volumeTable(out, list, this::inUse);
      }
      return list.stream().map(m -> view(m, inUse(m))).toList();
    }
  }

  @Command(name = "inspect", mixinStandardHelpOptions = true, description = "Show a volume's manifest.")
  static final class Inspect extends Sub {
    @Parameters(index = "0", paramLabel = "ID") String id = "";

    @Override
    Object run(VolumeManager volumes, SnapshotManager snapshots, PrintWriter out) throws IOException {
      var m = volumes.get(id);
      if (m.isEmpty()) {
        var s = snapshots.get(id).orElseThrow(() -> new UserError("no volume or snapshot " + id
            + " in this store (see 'bucketdisk volume ls')"));
        if (!opts.json) {
          snapshotTable(out, List.of(s));
        }
        return view(s);
      }
      var v = m.get();
      if (!opts.json) {
        var p = v.parameters();
        out.printf("id:            %s%n", v.id());
        if (VolumeIds.isEphemeral(v)) {
          out.printf("kind:          ephemeral inline volume (the node creates and deletes it through its gateway)%n");
          out.printf("pod-side name: %s%n", p.getOrDefault(VolumeManager.NAME_KEY, "-"));
          out.printf("pod:           %s%n", pod(v));
        } else {
          out.printf("name:          %s%n", p.getOrDefault(VolumeManager.NAME_KEY, "-"));
        }
        out.printf("size:          %s (%d bytes)%n", human(v.sizeBytes()), v.sizeBytes());
        out.printf("chunk size:    %s%n", human(v.chunkSize()));
        out.printf("epoch:         %d%n", v.epoch());
        out.printf("created:       %s%n", v.createdAt());
        out.printf("source:        %s%n", v.parameters().getOrDefault(VolumeManager.SOURCE_KEY, "-"));
        out.printf("parent:        %s%n", v.parent() == null ? "-" : v.parent().volumeId() + " @ snapshot "
            + v.parent().snapshotId());
        out.printf("lease:         %s%n", v.lease() == null ? "-" : v.lease().ownerId() + " (" + v.lease().ownerAddress()
            + ") until " + v.lease().expiresAt() + (inUse(v) ? ": open, in use" : ": expired, not in use"));
        out.printf("published to:  %s%n", v.publications().isEmpty() ? "-" : String.join(", ",
            v.publications().entrySet().stream().map(e -> e.getKey() + (e.getValue().readOnly() ? " (ro)" : ""))
                .toList()));
        out.printf("snapshots:     %s%n", v.snapshots().isEmpty() ? "-" : String.join(", ", v.snapshots().keySet()));
        out.printf("context:       %s%n", VolumeManager.volumeContext(v));
      }
      return opts.json ? inspectView(v, inUse(v)) : v;
    }
  }

  @Command(name = "rm", aliases = "delete", mixinStandardHelpOptions = true,
      description = "Delete volumes (or snapshots); idempotent. Refuses a volume open on a gateway or published.")
  static final class Rm extends Sub {
    @Parameters(arity = "1..*", paramLabel = "ID") List<String> ids = new ArrayList<>();
    @Option(names = "--snapshot", description = "The ids are snapshots.") boolean snapshot;
    @Option(names = "--force", description = "Also delete an ephemeral inline volume still published to a node that "
        + "is gone for good (removes the publication; never while a lease may be live).")
    boolean force;

    @Override
    Object run(VolumeManager volumes, SnapshotManager snapshots, PrintWriter out) throws IOException {
      if (force && snapshot) {
        throw new UserError("--force is for volumes; it does not go with --snapshot");
      }
      for (String id : ids) {
        if (snapshot) {
          snapshots.delete(id);
        } else {
          var m = volumes.get(id);
          if (m.isPresent() && inUse(m.get())) {
            throw new UserError(inUseMessage(m.get()));
          }
          if (m.isPresent() && VolumeIds.isEphemeral(m.get()) && !m.get().publications().isEmpty()) {
            if (!force) {
              throw new UserError(publishedMessage(m.get()));
            }
            for (String node : m.get().publications().keySet()) {
              catalog().unpublish(id, node);
              if (!opts.json) {
                out.println("unpublished " + id + " from node " + node);
              }
            }
          } else if (force && m.isPresent() && !m.get().publications().isEmpty()) {
            throw new UserError("volume " + id + " is a persistent volume published to node(s) "
                + String.join(", ", m.get().publications().keySet()) + " by the controller; --force is only for "
                + "ephemeral inline volumes: delete the pod or its VolumeAttachment so the controller unpublishes it");
          }
          volumes.delete(id);
        }
        if (!opts.json) {
          out.println("deleted " + id);
        }
      }
      return Map.of("deleted", ids);
    }
  }

  @Command(name = "snapshot", mixinStandardHelpOptions = true,
      description = "Snapshot a volume (O(1), no data copied; idempotent on NAME).")
  static final class Snapshot extends Sub {
    @Parameters(index = "0", paramLabel = "VOLUME") String volume = "";
    @Parameters(index = "1", paramLabel = "NAME") String name = "";

    @Override
    Object run(VolumeManager volumes, SnapshotManager snapshots, PrintWriter out) throws IOException {
      var s = snapshots.create(name, volume);
      if (!opts.json) {
        snapshotTable(out, List.of(s));
      }
      return view(s);
    }
  }

  @Command(name = "expand", aliases = "resize", mixinStandardHelpOptions = true, description = "Grow a volume (online).")
  static final class Expand extends Sub {
    @Parameters(index = "0", paramLabel = "ID") String id = "";
    @Option(names = "--size", required = true, description = "New size, bytes or with Ki/Mi/Gi/Ti.") String size = "";

    @Override
    Object run(VolumeManager volumes, SnapshotManager snapshots, PrintWriter out) throws IOException {
      var m = volumes.expand(id, parseSize(size), 0);
      if (!opts.json) {
        volumeTable(out, List.of(m), this::inUse);
      }
      return view(m);
    }
  }

  /** The one-line refusal for a volume whose lease is (or may still be) live. */
  static String inUseMessage(VolumeManifest m) {
    Lease l = m.lease();
    String where = l == null ? "a gateway" : "gateway " + l.ownerId() + " (" + l.ownerAddress() + "), lease until "
        + l.expiresAt();
    if (VolumeIds.isEphemeral(m)) {
      return "volume " + m.id() + " is in use: ephemeral inline volume of pod " + pod(m) + ", open on " + where
          + "; not deleted (delete the pod and its node removes it; if the node is gone, retry after the lease expires"
          + " with --force)";
    }
    return "volume " + m.id() + " is in use: open on " + where + "; not deleted (close it there first)";
  }

  /** The one-line refusal for an ephemeral volume with no live lease that a node still has published. */
  static String publishedMessage(VolumeManifest m) {
    String nodes = String.join(", ", m.publications().keySet());
    return "volume " + m.id() + " is in use: ephemeral inline volume of pod " + pod(m) + ", published to node "
        + nodes + "; not deleted (delete the pod and node " + nodes + " removes it; if that node is gone for good: "
        + "bucketdisk volume rm --force " + m.id() + ")";
  }

  /** {@code namespace/name} of the pod an ephemeral volume was made for, as kubelet reported it, or "-". */
  static String pod(VolumeManifest m) {
    var p = m.parameters();
    String name = p.get(POD_NAME);
    if (name == null) {
      return "-";
    }
    String ns = p.get(POD_NAMESPACE);
    String uid = p.get(POD_UID);
    return (ns == null ? "" : ns + "/") + name + (uid == null ? "" : " (uid " + uid + ")");
  }

  static long parseSize(String s) {
    try {
      long bytes = ByteSize.parse(s).bytes();
      if (bytes == 0) {
        throw new IllegalArgumentException("'" + s.strip() + "' is not a size for a volume; it must be more than 0");
      }
      return bytes;
    } catch (IllegalArgumentException e) {
      throw new UserError("--size: " + e.getMessage());
    }
  }


  static String human(long bytes) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = bytes;
    int u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return v == Math.rint(v) ? String.format(Locale.ROOT, "%d %s", (long) v, units[u])
        : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
  }

  static Map<String, Object> view(VolumeManifest m) {
    var v = new LinkedHashMap<String, Object>();
    fill(v, m);
    return v;
  }

  /** As {@link #view(VolumeManifest)}, plus whether it is in use and, for an ephemeral volume, its pod. */
  static Map<String, Object> view(VolumeManifest m, boolean inUse) {
    var v = new LinkedHashMap<String, Object>();
    fill(v, m);
    v.put("inUse", inUse);
    v.put("openOn", inUse && m.lease() != null ? m.lease().ownerId() : null);
    if (VolumeIds.isEphemeral(m)) {
      v.put("pod", pod(m));
    }
    return v;
  }

  /** The manifest's fields as stored, plus the derived {@code ephemeral} and {@code inUse}. */
  private static Map<String, Object> inspectView(VolumeManifest m, boolean inUse) {
    var v = new ObjectMapper().convertValue(m, new TypeReference<LinkedHashMap<String, Object>>() {});
    v.put("ephemeral", VolumeIds.isEphemeral(m));
    v.put("inUse", inUse);
    return v;
  }

  private static void fill(Map<String, Object> v, VolumeManifest m) {
    v.put("id", m.id());
    v.put("name", m.parameters().getOrDefault(VolumeManager.NAME_KEY, ""));
    v.put("ephemeral", VolumeIds.isEphemeral(m));
    v.put("sizeBytes", m.sizeBytes());
    v.put("chunkSize", m.chunkSize());
    v.put("source", m.parameters().getOrDefault(VolumeManager.SOURCE_KEY, ""));
    v.put("publishedTo", m.publications().keySet());
    v.put("snapshots", m.snapshots().keySet());
    v.put("created", m.createdAt().toString());
  }

  static Map<String, Object> view(SnapshotRecord s) {
    var v = new LinkedHashMap<String, Object>();
    v.put("id", s.id());
    v.put("volumeId", s.volumeId());
    v.put("sizeBytes", s.sizeBytes());
    v.put("epoch", s.epoch());
    v.put("created", Instant.ofEpochMilli(s.createdAtMillis()).toString());
    return v;
  }

  /**
   * KIND is {@code pv} or {@code ephemeral}; OPEN ON the gateway holding a live lease, else "-"; SOURCE the content
   * source, or for an ephemeral volume its pod.
   */
  private static void volumeTable(PrintWriter out, List<VolumeManifest> list,
      Predicate<VolumeManifest> inUse) {
    String row = "%-58s %-10s %-10s %-8s %-20s %-22s %s%n";
    out.printf(row, "ID", "KIND", "SIZE", "CHUNK", "OPEN ON", "PUBLISHED", "SOURCE/POD");
    for (var m : list) {
      boolean eph = VolumeIds.isEphemeral(m);
      out.printf(row, m.id(), eph ? "ephemeral" : "pv", human(m.sizeBytes()), human(m.chunkSize()),
          inUse.test(m) && m.lease() != null ? m.lease().ownerId() : "-",
          m.publications().isEmpty() ? "-" : String.join(",", m.publications().keySet()),
          eph ? pod(m) : m.parameters().getOrDefault(VolumeManager.SOURCE_KEY, "-"));
    }
  }

  private static void snapshotTable(PrintWriter out, List<SnapshotRecord> list) {
    out.printf("%-44s %-44s %-10s %s%n", "SNAPSHOT", "VOLUME", "SIZE", "CREATED");
    for (var s : list) {
      out.printf("%-44s %-44s %-10s %s%n", s.id(), s.volumeId(), human(s.sizeBytes()),
          Instant.ofEpochMilli(s.createdAtMillis()));
    }
  }
}
