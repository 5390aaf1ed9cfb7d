package io.bucketdisk.nbd.server;

import static io.bucketdisk.nbd.wire.NbdConstants.*;

import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.NbdError;
import io.bucketdisk.nbd.wire.RequestHeader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Executes one validated request against the export and writes its reply (NBD spec "Request types"): the NBD
 * flags become export flags, a failure becomes one error reply ({@link NbdErrors}).
 *
 * <p><b>FLUSH.</b> A FLUSH is executed when it is read; every write already answered has completed in the export,
 * so the export's flush covers it (the server never reorders a flush before a write it acknowledged).
 *
 * <p>Thread safe: it holds nothing but its collaborators, and the {@link ReplyWriter} serialises replies. The
 * caller keeps a WRITE payload; a READ buffer is leased from the pool here and returned once its reply is sent.
 * {@link #executeIfHeld} is the reading thread's way in for reads the export holds in memory.
 * Throws {@link IOException} only when the reply could not be written; a {@link RuntimeException} or
 * {@link AssertionError} from the export is answered with an error and counted as a bug.
 */
final class Dispatcher {
  /**
   * The largest read served on the reading thread: its copy and reply hold up the requests behind it, where a read
   * handed off runs beside them.
   */
  static final long MAX_HELD_READ = 128 << 10;
  private final Export export;
  private final ReplyWriter writer;
  private final List<String> contexts;
  private final PayloadBuffers pool;
  private final String exportName;

  /**
   * @param contexts the selected metadata contexts; context id {@code i + 1} names {@code contexts.get(i)}
   * @param exportName the export's name, for the log
   */
  Dispatcher(Export export, ReplyWriter writer, List<String> contexts, PayloadBuffers pool, String exportName) {
    this.export = export;
    this.writer = writer;
    this.contexts = contexts;
    this.pool = pool;
    this.exportName = exportName;
  }

  /**
   * A READ of at most {@link #MAX_HELD_READ} bytes that the export holds in memory ({@link Export#readIfHeld}) is
   * executed here, its reply added to {@code held} (which owns the buffer from then on), and true returned. False
   * for any other request, a read that would wait, or one that failed: nothing was sent, and the caller hands it to
   * {@link #execute}, which reads again and answers (a failure is seen and counted there).
   */
  boolean executeIfHeld(RequestHeader h, HeldReplies held) {
    if (h.type() != CMD_READ || h.length() > MAX_HELD_READ) {
      return false;
    }
    ByteBuffer data = pool.acquire((int) h.length());
    boolean read = false;
    try {
      read = export.readIfHeld(h.offset(), data, h.has(CMD_FLAG_FUA) ? Export.FUA : 0);
    } catch (IOException | RuntimeException | AssertionError e) {
      // answered by execute()
    }
    if (!read) {
      pool.release(data);
      return false;
    }
    held.read(h, data.flip());
    return true;
  }

  void execute(RequestHeader h, @Nullable ByteBuffer payload) throws IOException {
    int fua = h.has(CMD_FLAG_FUA) ? Export.FUA : 0;
    ByteBuffer data = null;
    BlockStatus status = null;
    try {
      try {
        switch (h.type()) {
          case CMD_READ -> {
            data = pool.acquire((int) h.length());
            export.read(h.offset(), data, fua);
            data.flip();
          }
          case CMD_WRITE -> export.write(h.offset(), Objects.requireNonNull(payload), fua);
          case CMD_FLUSH -> export.flush(0);
          case CMD_TRIM -> export.trim(h.offset(), h.length(), fua);
          case CMD_WRITE_ZEROES -> {
            int flags = fua;
            if (!h.has(CMD_FLAG_NO_HOLE)) {
              flags |= Export.MAY_TRIM;
            }
            if (h.has(CMD_FLAG_FAST_ZERO)) {
              flags |= Export.FAST_ZERO;
            }
            export.zero(h.offset(), h.length(), flags);
          }
          case CMD_CACHE -> export.cache(h.offset(), h.length(), 0);
          case CMD_BLOCK_STATUS -> status = BlockStatus.collect(export, contexts, h);
          default -> throw new IllegalStateException("unvalidated command " + h.type());
        }
      } catch (IOException | RuntimeException | AssertionError e) {
        if (!(e instanceof IOException)) {
          NbdConnection.countBug();
        }
        NbdError error = NbdErrors.map(e, h, exportName);
        writer.error(h, error, e.getMessage() == null ? error.name() : e.getMessage());
        return;
      }
      if (data != null) {
        writer.read(h, data);
      } else if (status != null) {
        status.reply(writer, h);
      } else {
        writer.ok(h);
      }
    } finally {
      if (data != null) {
        pool.release(data);
      }
    }
  }
}
