package io.bucketdisk.store;

/**
 * Who asks for a volume's lease: a stable owner id (the gateway's id, e.g. its node name) and the address of its
 * control API ({@code unix:///run/bucketdisk/control.sock} or {@code host:port}), which is written into the lease so
 * the controller can ask the owner to flush or snapshot.
 */
public record LeaseOwner(String id, String address) {
  public LeaseOwner {
    if (id.isBlank()) {
      throw new IllegalArgumentException("lease owner id is empty");
    }
  }
}
