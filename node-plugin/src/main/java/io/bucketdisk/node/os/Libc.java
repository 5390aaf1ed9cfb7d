package io.bucketdisk.node.os;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

/**
 * Thin, checked wrappers over libc socket calls (Linux x86-64 ABI). Every method throws {@link ErrnoException}
 * when the call returns -1; none retries except on {@code EINTR}. Thread-safe: the handles are stateless and
 * each call captures {@code errno} into its own memory. Needs {@code --enable-native-access=ALL-UNNAMED}.
 */
public final class Libc {
  public static final int AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10, AF_NETLINK = 16;
  public static final int SOCK_STREAM = 1, SOCK_RAW = 3, SOCK_CLOEXEC = 0x80000;
  public static final int SOL_SOCKET = 1, SO_RCVTIMEO = 20, SO_SNDTIMEO = 21, SO_RCVBUF = 8;
  public static final int IPPROTO_TCP = 6, TCP_NODELAY = 1;
  public static final int SOL_NETLINK = 270, NETLINK_ADD_MEMBERSHIP = 1, NETLINK_EXT_ACK = 11;
  public static final int NETLINK_GENERIC = 16;
  public static final int SHUT_RDWR = 2;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final StructLayout STATE = Linker.Option.captureStateLayout();
  private static final long ERRNO_OFFSET = STATE.byteOffset(MemoryLayout.PathElement.groupElement("errno"));

  private static final MethodHandle SOCKET = fn("socket", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle BIND = fn("bind", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle CONNECT = fn("connect", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle SEND = fn("send", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
  private static final MethodHandle RECV = fn("recv", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
  private static final MethodHandle SETSOCKOPT = fn("setsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle SHUTDOWN = fn("shutdown", JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle CLOSE = fn("close", JAVA_INT, JAVA_INT);
  private static final MethodHandle STRERROR =
      LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("strerror"), FunctionDescriptor.of(ADDRESS, JAVA_INT));

  private Libc() {}

  private static MethodHandle fn(String name, MemoryLayout ret, MemoryLayout... args) {
    return LINKER.downcallHandle(
        LINKER.defaultLookup().findOrThrow(name), FunctionDescriptor.of(ret, args), Linker.Option.captureCallState("errno"));
  }

  private static int errno(MemorySegment state) {
    return state.get(JAVA_INT, ERRNO_OFFSET);
  }

  private static MemorySegment state(Arena arena) {
    return arena.allocate(STATE);
  }

  private static RuntimeException rethrow(Throwable t) {
    if (t instanceof RuntimeException r) {
      return r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new IllegalStateException(t);
  }

  public static int socket(int domain, int type, int protocol) throws ErrnoException {
    try (var arena = Arena.ofConfined()) {
      var st = state(arena);
      int fd = (int) SOCKET.invokeExact(st, domain, type, protocol);
      if (fd < 0) {
        throw new ErrnoException("socket", errno(st));
      }
      return fd;
    } catch (ErrnoException e) {
      throw e;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static void bind(int fd, MemorySegment addr) throws ErrnoException {
    try (var arena = Arena.ofConfined()) {
      var st = state(arena);
      if ((int) BIND.invokeExact(st, fd, addr, (int) addr.byteSize()) < 0) {
        throw new ErrnoException("bind", errno(st));
      }
    } catch (ErrnoException e) {
      throw e;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static void connect(int fd, MemorySegment addr) throws ErrnoException {
    try (var arena = Arena.ofConfined()) {
      var st = state(arena);
      if ((int) CONNECT.invokeExact(st, fd, addr, (int) addr.byteSize()) < 0) {
        throw new ErrnoException("connect", errno(st));
      }
    } catch (ErrnoException e) {
      throw e;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** Sends up to {@code len} bytes from {@code buf}; returns how many were sent. */
  public static long send(int fd, MemorySegment buf, long len) throws ErrnoException {
    try (var arena = Arena.ofConfined()) {
      var st = state(arena);
      while (true) {
        long n = (long) SEND.invokeExact(st, fd, buf, len, 0x4000 /* MSG_NOSIGNAL */);
        if (n >= 0) {
          return n;
        }
        if (errno(st) != ErrnoException.EINTR) {
          throw new ErrnoException("send", errno(st));
        }
      }
    } catch (ErrnoException e) {
      throw e;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** Receives up to {@code len} bytes into {@code buf}; returns how many arrived, 0 at end of stream. */
  public static long recv(int fd, MemorySegment buf, long len, int flags) throws ErrnoException {
    try (var arena = Arena.ofConfined()) {
      var st = state(arena);
      while (true) {
        long n = (long) RECV.invokeExact(st, fd, buf, len, flags);
        if (n >= 0) {
          return n;
        }
        if (errno(st) != ErrnoException.EINTR) {
          throw new ErrnoException("recv", errno(st));
        }
      }
    } catch (ErrnoException e) {
      throw e;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static void setsockopt(int fd, int level, int name, MemorySegment value) throws ErrnoException {
    try (var arena = Arena.ofConfined()) {
      var st = state(arena);
      if ((int) SETSOCKOPT.invokeExact(st, fd, level, name, value, (int) value.byteSize()) < 0) {
        throw new ErrnoException("setsockopt(" + level + "," + name + ")", errno(st));
      }
    } catch (ErrnoException e) {
      throw e;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static void setsockoptInt(int fd, int level, int name, int value) throws ErrnoException {
    try (var arena = Arena.ofConfined()) {
      setsockopt(fd, level, name, arena.allocateFrom(JAVA_INT, value));
    }
  }

  /** Sets a {@code struct timeval} option (SO_RCVTIMEO/SO_SNDTIMEO); 0 means block forever. */
  public static void setTimeout(int fd, int name, long millis) throws ErrnoException {
    try (var arena = Arena.ofConfined()) {
      var tv = arena.allocate(16, 8);
      tv.set(JAVA_LONG, 0, millis / 1000);
      tv.set(JAVA_LONG, 8, (millis % 1000) * 1000);
      setsockopt(fd, SOL_SOCKET, name, tv);
    }
  }

  public static void shutdown(int fd) {
    try (var arena = Arena.ofConfined()) {
      int ignored = (int) SHUTDOWN.invokeExact(state(arena), fd, SHUT_RDWR);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static void close(int fd) {
    try (var arena = Arena.ofConfined()) {
      int ignored = (int) CLOSE.invokeExact(state(arena), fd);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public static String strerror(int errno) {
    try {
      var p = (MemorySegment) STRERROR.invokeExact(errno);
      return p.reinterpret(256).getString(0);
    } catch (Throwable t) {
      return "errno " + errno;
    }
  }
}
