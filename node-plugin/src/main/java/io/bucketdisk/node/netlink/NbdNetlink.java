package io.bucketdisk.node.netlink;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.bucketdisk.node.netlink.NetlinkReader.Message;
import io.bucketdisk.node.os.ErrnoException;
import io.bucketdisk.node.os.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A generic netlink socket bound to the kernel's {@code nbd} family. {@link #open()} resolves the family (and
 * fails with a "run modprobe nbd" message when it is absent); the methods are the family's commands. Requests
 * are serialised on this object and each waits at most {@link #REPLY_TIMEOUT} for the kernel's ACK, so no
 * call hangs. Thread-safe. Not for the data path.
 */
public final class NbdNetlink implements AutoCloseable {
  static final Duration REPLY_TIMEOUT = Duration.ofSeconds(30);
  private static final int RECV_BUFFER = 64 * 1024;

  private final int fd;
  private final int family;
  private final OptionalInt multicastGroup;
  private final AtomicInteger seq = new AtomicInteger(1);
  private final Arena arena = Arena.ofShared();
  private final MemorySegment rx = arena.allocate(RECV_BUFFER);

  private NbdNetlink(int fd, int family, OptionalInt multicastGroup) {
    this.fd = fd;
    this.family = family;
    this.multicastGroup = multicastGroup;
  }

  /** Opens a socket and resolves the {@code nbd} family; ENOENT means the module is not loaded. */
  public static NbdNetlink open() throws NetlinkException {
    int fd = openSocket();
    try {
      var probe = new NbdNetlink(fd, Netlink.GENL_ID_CTRL, OptionalInt.empty());
      var replies = probe.transact(NbdMessages.getFamily(1, Netlink.NBD_FAMILY), 1, "resolve netlink family nbd");
      var f = NbdMessages.family(replies.getFirst(), Netlink.NBD_MCAST_GROUP);
      probe.arena.close();
      return new NbdNetlink(fd, f.id(), f.multicastGroup());
    } catch (NetlinkException e) {
      Libc.close(fd);
      if (e.errno() == ErrnoException.ENOENT) {
        throw new NetlinkException("kernel nbd module not loaded: run modprobe nbd", e.errno(), e);
      }
      throw e;
    } catch (RuntimeException e) {
      Libc.close(fd);
      throw new NetlinkException("resolve netlink family nbd: " + e.getMessage(), ErrnoException.EIO, e);
    }
  }

  private static int openSocket() throws NetlinkException {
    try {
      int fd = Libc.socket(Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, Libc.NETLINK_GENERIC);
      try (var a = Arena.ofConfined()) {
        var addr = a.allocate(12);
        addr.set(JAVA_SHORT, 0, (short) Libc.AF_NETLINK);
        Libc.bind(fd, addr);
        Libc.setTimeout(fd, Libc.SO_RCVTIMEO, REPLY_TIMEOUT.toMillis());
      } catch (ErrnoException e) {
        Libc.close(fd);
        throw e;
      }
      return fd;
    } catch (ErrnoException e) {
      throw new NetlinkException("open generic netlink socket: " + e.getMessage(), e.errno(), e);
    }
  }

  /** Attaches a device; returns the index N of the {@code /dev/nbdN} the kernel chose. */
  public int connect(DeviceConfig config) throws NetlinkException {
    int s = seq.incrementAndGet();
    var replies = transact(NbdMessages.connect(family, s, config), s, "NBD_CMD_CONNECT " + config.backendIdentifier());
    for (var m : replies) {
      if (m.error() == null) {
        return NbdMessages.connectedIndex(m);
      }
    }
    throw new NetlinkException("NBD_CMD_CONNECT " + config.backendIdentifier() + ": the kernel did not say which device",
        ErrnoException.EIO);
  }

  /** Changes the size and/or hands over new sockets (each replaces one dead socket) of device {@code index}. */
  public void reconfigure(int index, String backendIdentifier, OptionalLong sizeBytes, List<Integer> fds)
      throws NetlinkException {
    int s = seq.incrementAndGet();
    transact(NbdMessages.reconfigure(family, s, index, backendIdentifier, sizeBytes, fds), s,
        "NBD_CMD_RECONFIGURE nbd" + index + " (" + backendIdentifier + ")");
  }

  /** Detaches device {@code index}: in-flight I/O fails; succeeds also when it was not configured. */
  public void disconnect(int index) throws NetlinkException {
    int s = seq.incrementAndGet();
    transact(NbdMessages.disconnect(family, s, index), s, "NBD_CMD_DISCONNECT nbd" + index);
  }

  /** Every NBD device the kernel has, with whether it is configured. */
  public List<DeviceStatus> status() throws NetlinkException {
    int s = seq.incrementAndGet();
    var out = new ArrayList<DeviceStatus>();
    for (var m : transact(NbdMessages.status(family, s, OptionalInt.empty()), s, "NBD_CMD_STATUS")) {
      if (m.error() == null) {
        out.addAll(NbdMessages.devices(m));
      }
    }
    return out;
  }

  public Optional<DeviceStatus> status(int index) throws NetlinkException {
    int s = seq.incrementAndGet();
    for (var m : transact(NbdMessages.status(family, s, OptionalInt.of(index)), s, "NBD_CMD_STATUS nbd" + index)) {
      if (m.error() == null) {
        for (var d : NbdMessages.devices(m)) {
          if (d.index() == index) {
            return Optional.of(d);
          }
        }
      }
    }
    return Optional.empty();
  }

  /** Joins {@code nbd_mc_group} on a socket of its own, to hear {@code LINK_DEAD}. */
  public LinkDeadSubscription subscribeLinkDead() throws NetlinkException {
    if (multicastGroup.isEmpty()) {
      throw new NetlinkException("the nbd family has no multicast group " + Netlink.NBD_MCAST_GROUP, ErrnoException.ENOENT);
    }
    int sub = openSocket();
    try {
      Libc.setsockoptInt(sub, Libc.SOL_NETLINK, Libc.NETLINK_ADD_MEMBERSHIP, multicastGroup.getAsInt());
    } catch (ErrnoException e) {
      Libc.close(sub);
      throw new NetlinkException("join " + Netlink.NBD_MCAST_GROUP + ": " + e.getMessage(), e.errno(), e);
    }
    return new LinkDeadSubscription(sub);
  }

  /** Sends one request and collects every reply message with its sequence number up to the ACK or error. */
  private synchronized List<Message> transact(byte[] request, int s, String what) throws NetlinkException {
    try (var txArena = Arena.ofConfined()) {
      var tx = txArena.allocate(request.length);
      MemorySegment.copy(request, 0, tx, JAVA_BYTE, 0, request.length);
      Libc.send(fd, tx, request.length);
      var replies = new ArrayList<Message>();
      long deadline = System.nanoTime() + REPLY_TIMEOUT.toNanos();
      while (System.nanoTime() < deadline) {
        long n = Libc.recv(fd, rx, RECV_BUFFER, 0);
        // Copy out: parsed messages are views, and the next recv reuses rx.
        for (var m : NetlinkReader.parse(ByteBuffer.wrap(rx.asSlice(0, n).toArray(JAVA_BYTE)))) {
          if (m.seq() != s) {
            continue;
          }
          if (m.error() != null) {
            if (m.error() == 0) {
              return replies;
            }
            int errno = -m.error();
            String ext = m.extAckMessage() == null ? "" : " (" + m.extAckMessage() + ")";
            throw new NetlinkException(what + ": " + Libc.strerror(errno) + ext + hint(errno), errno);
          }
          replies.add(m);
        }
      }
      throw new NetlinkException(what + ": no reply from the kernel within " + REPLY_TIMEOUT, ErrnoException.ETIMEDOUT);
    } catch (ErrnoException e) {
      throw new NetlinkException(what + ": " + e.getMessage(), e.errno(), e);
    } catch (IllegalArgumentException e) {
      throw new NetlinkException(what + ": malformed reply: " + e.getMessage(), ErrnoException.EIO, e);
    }
  }

  private static String hint(int errno) {
    return switch (errno) {
      case ErrnoException.EPERM -> "; the node plugin needs CAP_SYS_ADMIN (run it privileged)";
      case ErrnoException.EBUSY -> "; the device is already in use";
      default -> "";
    };
  }

  @Override
  public synchronized void close() {
    Libc.close(fd);
    arena.close();
  }

  /**
   * A socket subscribed to {@code LINK_DEAD}: {@link #next(Duration)} returns the index of the next device
   * whose connection died. One reader thread at a time; {@link #close()} from any thread once it returned.
   */
  public static final class LinkDeadSubscription implements AutoCloseable {
    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment rx = arena.allocate(RECV_BUFFER);
    private final ArrayList<Integer> pending = new ArrayList<>();

    private LinkDeadSubscription(int fd) {
      this.fd = fd;
    }

    /** Waits up to {@code timeout} for a LINK_DEAD; empty when none arrived. */
    public synchronized OptionalInt next(Duration timeout) throws NetlinkException {
      if (!pending.isEmpty()) {
        return OptionalInt.of(pending.removeFirst());
      }
      try {
        Libc.setTimeout(fd, Libc.SO_RCVTIMEO, Math.max(1, timeout.toMillis()));
        long n = Libc.recv(fd, rx, RECV_BUFFER, 0);
        for (var m : NetlinkReader.parse(ByteBuffer.wrap(rx.asSlice(0, n).toArray(JAVA_BYTE)))) {
          NbdMessages.linkDead(m).ifPresent(pending::add);
        }
      } catch (ErrnoException e) {
        if (e.errno() == ErrnoException.EAGAIN) {
          return OptionalInt.empty();
        }
        throw new NetlinkException("receive LINK_DEAD: " + e.getMessage(), e.errno(), e);
      } catch (IllegalArgumentException e) {
        return OptionalInt.empty();
      }
      return pending.isEmpty() ? OptionalInt.empty() : OptionalInt.of(pending.removeFirst());
    }

    @Override
    public synchronized void close() {
      Libc.close(fd);
      arena.close();
    }
  }
}
