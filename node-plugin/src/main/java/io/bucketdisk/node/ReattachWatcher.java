package io.bucketdisk.node;

import io.bucketdisk.node.netlink.NbdNetlink.LinkDeadSubscription;
import io.bucketdisk.node.netlink.NetlinkException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps staged devices connected when the gateway restarts (the rbd-nbd lesson). When a kernel connection dies
 * the kernel multicasts {@code LINK_DEAD} and holds I/O for the dead-connection timeout; this watcher then
 * reconnects to the gateway with backoff and hands the new sockets over with {@code NBD_CMD_RECONFIGURE}
 * (same backend identifier; the kernel swaps them for dead ones and drops extras). Events for one device are
 * coalesced: a short debounce lets all of its sockets die first, so one RECONFIGURE replaces them all.
 * {@link #reconcile()} does the same for every staged volume at start-up, covering deaths the plugin missed
 * while it was down. Ephemeral inline volumes are attached the same way and reattached the same way. One platform
 * thread listens; each reattach runs on a virtual thread.
 */
final class ReattachWatcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReattachWatcher.class);
  private static final Duration DEBOUNCE = Duration.ofMillis(300);

  private final LinkDeadSubscription subscription;
  private final NodeAttacher attacher;
  private final StagingState state;
  private final Duration giveUpAfter;
  private final Set<Integer> pending = ConcurrentHashMap.newKeySet();
  private volatile boolean running = true;
  private final Thread listener;

  ReattachWatcher(LinkDeadSubscription subscription, NodeAttacher attacher, StagingState state, Duration giveUpAfter) {
    this.subscription = subscription;
    this.attacher = attacher;
    this.state = state;
    this.giveUpAfter = giveUpAfter;
    this.listener = Thread.ofPlatform().daemon().name("nbd-link-dead").unstarted(this::listen);
  }

  void start() {
    listener.start();
  }

  private void listen() {
    while (running) {
      try {
        var dead = subscription.next(Duration.ofSeconds(1));
        if (dead.isPresent()) {
          schedule(dead.getAsInt(), "LINK_DEAD");
        }
      } catch (NetlinkException e) {
        if (running) {
          log.warn("listening for LINK_DEAD failed: {}", e.getMessage());
          sleep(Duration.ofSeconds(1));
        }
      }
    }
  }

  /** Hands fresh sockets to every staged device (dropped by the kernel where no connection is dead). */
  void reconcile() {
    for (var v : state.all()) {
      if (v.deviceIndex() >= 0) { // an ephemeral volume created but not attached yet has none
        schedule(v.deviceIndex(), "start-up check");
      }
    }
  }

  private void schedule(int index, String why) {
    if (!pending.add(index)) {
      return;
    }
    Thread.ofVirtual().name("reattach-nbd" + index).start(() -> {
      try {
        sleep(DEBOUNCE);
        pending.remove(index);
        reattach(index, why);
      } finally {
        pending.remove(index);
      }
    });
  }

  private void reattach(int index, String why) {
    var v = state.byDevice(index);
    if (v.isEmpty()) {
      log.info("/dev/nbd{}: {} for a device this node did not stage; ignored", index, why);
      return;
    }
    String id = v.get().exportName(); // staged and ephemeral volumes alike: the gateway export and backend id
    if (!NodeAttacher.backend(index).map(id::equals).orElse(false)) {
      log.warn("volume {}: /dev/nbd{} no longer serves it; not reattaching", id, index);
      return;
    }
    long deadline = System.nanoTime() + giveUpAfter.toNanos();
    Duration backoff = Duration.ofMillis(200);
    int attempt = 0;
    while (running && System.nanoTime() < deadline) {
      attempt++;
      try {
        int n = attacher.reattach(id, index, io.bucketdisk.common.net.Endpoint.parse(v.get().gateway()));
        log.info("volume {}: /dev/nbd{} handed {} fresh connection(s) after {} (attempt {})", id, index, n, why, attempt);
        return;
      } catch (Exception e) {
        log.info("volume {}: reattach of /dev/nbd{} failed (attempt {}): {}", id, index, attempt, e.getMessage());
        sleep(backoff);
        backoff = backoff.multipliedBy(2).compareTo(Duration.ofSeconds(3)) > 0 ? Duration.ofSeconds(3) : backoff.multipliedBy(2);
      }
    }
    log.error("volume {}: gave up reattaching /dev/nbd{} after {}; its I/O will fail", id, index, giveUpAfter);
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    running = false;
    try {
      listener.join(Duration.ofSeconds(3));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    subscription.close();
  }
}
