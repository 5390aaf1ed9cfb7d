package io.bucketdisk.node.os;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A connected stream socket (TCP or Unix) created with {@code socket(2)}/{@code connect(2)}, so its int file
 * descriptor can be handed to the kernel. Reads and writes block; {@link #connect} bounds connecting and
 * every later read/write with a timeout until {@link #clearTimeouts()}. Not thread-safe. Closing twice is a
 * no-op; {@link #release()} gives the fd away without closing it.
 */
public final class NativeSocket implements ByteChannel {
  private int fd;

  private NativeSocket(int fd) {
    this.fd = fd;
  }

  /** Connects to {@code address} ({@link InetSocketAddress} or {@link UnixDomainSocketAddress}). */
  public static NativeSocket connect(SocketAddress address, Duration timeout) throws IOException {
    try (var arena = Arena.ofConfined()) {
      MemorySegment sockaddr;
      int family;
      switch (address) {
        case InetSocketAddress inet -> {
          var ip = inet.getAddress();
          if (ip == null) {
            throw new IOException("cannot resolve " + inet.getHostString());
          }
          sockaddr = inetAddress(arena, inet);
          family = ip instanceof Inet6Address ? Libc.AF_INET6 : Libc.AF_INET;
        }
        case UnixDomainSocketAddress unix -> {
          sockaddr = unixAddress(arena, unix.getPath().toString());
          family = Libc.AF_UNIX;
        }
        default -> throw new IllegalArgumentException("unsupported address " + address);
      }
      int fd = Libc.socket(family, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
      var socket = new NativeSocket(fd);
      try {
        // SO_SNDTIMEO also bounds connect(2) (it fails with EINPROGRESS when the time is up).
        Libc.setTimeout(fd, Libc.SO_SNDTIMEO, timeout.toMillis());
        Libc.setTimeout(fd, Libc.SO_RCVTIMEO, timeout.toMillis());
        Libc.connect(fd, sockaddr);
        if (family != Libc.AF_UNIX) {
          Libc.setsockoptInt(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, 1);
        }
        return socket;
      } catch (ErrnoException e) {
        socket.close();
        if (e.errno() == ErrnoException.EINPROGRESS || e.errno() == ErrnoException.EAGAIN) {
          throw new ErrnoException("connect to " + address + " timed out after " + timeout.toMillis() + " ms; connect",
              ErrnoException.ETIMEDOUT);
        }
        throw new IOException("connect to " + address + ": " + e.getMessage(), e);
      }
    }
  }

  /** {@code struct sockaddr_in} / {@code sockaddr_in6}, port and address in network order. */
  static MemorySegment inetAddress(Arena arena, InetSocketAddress inet) {
    byte[] ip = inet.getAddress().getAddress();
    int port = inet.getPort();
    if (inet.getAddress() instanceof Inet4Address) {
      var sa = arena.allocate(16);
      sa.set(JAVA_SHORT, 0, (short) Libc.AF_INET);
      sa.set(JAVA_BYTE, 2, (byte) (port >>> 8));
      sa.set(JAVA_BYTE, 3, (byte) port);
      MemorySegment.copy(ip, 0, sa, JAVA_BYTE, 4, 4);
      return sa;
    }
    var sa = arena.allocate(28);
    sa.set(JAVA_SHORT, 0, (short) Libc.AF_INET6);
    sa.set(JAVA_BYTE, 2, (byte) (port >>> 8));
    sa.set(JAVA_BYTE, 3, (byte) port);
    MemorySegment.copy(ip, 0, sa, JAVA_BYTE, 8, 16);
    return sa;
  }

  /** {@code struct sockaddr_un}: family and a NUL-terminated path of at most 107 bytes. */
  static MemorySegment unixAddress(Arena arena, String path) {
    byte[] p = path.getBytes(StandardCharsets.UTF_8);
    if (p.length > 107) {
      throw new IllegalArgumentException("unix socket path longer than 107 bytes: " + path);
    }
    var sa = arena.allocate(2 + 108);
    sa.set(JAVA_SHORT, 0, (short) Libc.AF_UNIX);
    MemorySegment.copy(p, 0, sa, JAVA_BYTE, 2, p.length);
    return sa;
  }

  /** The file descriptor; -1 once closed or released. */
  public int fd() {
    return fd;
  }

  /** Removes the read/write timeouts, as the kernel expects of an NBD socket it takes over. */
  public void clearTimeouts() throws ErrnoException {
    Libc.setTimeout(fd, Libc.SO_SNDTIMEO, 0);
    Libc.setTimeout(fd, Libc.SO_RCVTIMEO, 0);
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    checkOpen();
    int want = dst.remaining();
    if (want == 0) {
      return 0;
    }
    try (var arena = Arena.ofConfined()) {
      var seg = arena.allocate(want);
      long n = Libc.recv(fd, seg, want, 0);
      if (n == 0) {
        return -1;
      }
      dst.put(seg.asSlice(0, n).asByteBuffer());
      return (int) n;
    } catch (ErrnoException e) {
      if (e.errno() == ErrnoException.EAGAIN) {
        throw new ErrnoException("recv timed out; recv", ErrnoException.ETIMEDOUT);
      }
      throw e;
    }
  }

  @Override
  public int write(ByteBuffer src) throws IOException {
    checkOpen();
    int len = src.remaining();
    try (var arena = Arena.ofConfined()) {
      var seg = arena.allocate(len);
      seg.asByteBuffer().put(src.duplicate());
      long done = 0;
      while (done < len) {
        done += Libc.send(fd, seg.asSlice(done), len - done);
      }
      src.position(src.position() + len);
      return len;
    }
  }

  private void checkOpen() throws ClosedChannelException {
    if (fd < 0) {
      throw new ClosedChannelException();
    }
  }

  /** Gives up ownership: returns the fd and leaves this object closed without closing the fd. */
  public int release() {
    int f = fd;
    fd = -1;
    return f;
  }

  @Override
  public boolean isOpen() {
    return fd >= 0;
  }

  @Override
  public void close() {
    if (fd >= 0) {
      Libc.close(fd);
      fd = -1;
    }
  }
}
