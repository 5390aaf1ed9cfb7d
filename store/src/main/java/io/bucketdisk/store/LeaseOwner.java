package io.bucketdisk.store;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;

/**
 * Who asks for a volume's lease: an owner id naming one gateway process, the address of its control API ({@code
 * unix:///run/bucketdisk/control.sock} or {@code host:port}, written into the lease so the controller can ask the
 * owner to flush or snapshot), and the ids of earlier processes this one is known to replace.
 *
 * <p>A gateway's id is {@code <node>#<nonce>} ({@link #instance}): two live processes with the same node name never
 * share an id, so they never both hold a volume. A lease held by one of {@code predecessors} (a process proven gone,
 * see {@code InstanceLock} in the app) is taken over at once, with a new epoch that fences whatever the dead process
 * left in flight; any other live lease waits for its expiry.
 */
public record LeaseOwner(String id, String address, Set<String> predecessors) {
  private static final SecureRandom NONCES = new SecureRandom();

  public LeaseOwner {
    if (id.isBlank()) {
      throw new IllegalArgumentException("lease owner id is empty");
    }
    predecessors = Set.copyOf(predecessors);
  }

  /** A fixed id, no predecessors (tools and tests that own one volume for a moment). */
  public LeaseOwner(String id, String address) {
    this(id, address, Set.of());
  }

  /** A new process on {@code node}: its id is {@code node#nonce}, fresh on every call. */
  public static LeaseOwner instance(String node, String address, Set<String> predecessors) {
    byte[] nonce = new byte[4];
    NONCES.nextBytes(nonce);
    return new LeaseOwner(node + "#" + HexFormat.of().formatHex(nonce), address, predecessors);
  }

  /** The node part of {@code ownerId} (everything before {@code #}). */
  public static String node(String ownerId) {
    int hash = ownerId.indexOf('#');
    return hash < 0 ? ownerId : ownerId.substring(0, hash);
  }

  /** Whether a lease held by {@code ownerId} may be taken over at once: its process is known to be gone. */
  public boolean replaces(String ownerId) {
    return predecessors.contains(ownerId);
  }
}
