package io.bucketdisk.nbd.handshake;

import static io.bucketdisk.nbd.wire.NbdConstants.*;

import io.bucketdisk.nbd.access.ExportAccess;
import io.bucketdisk.nbd.export.Export;
import io.bucketdisk.nbd.export.ExportProvider;
import io.bucketdisk.nbd.tls.ChannelTransport;
import io.bucketdisk.nbd.wire.OptionCodec;
import io.bucketdisk.nbd.wire.OptionFormatException;
import io.bucketdisk.nbd.wire.ProtocolException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of the fixed-newstyle handshake (NBD spec "Handshake phase", "Option haggling"), one method per
 * option. One instance serves one connection and is not thread safe.
 *
 * <p><b>State.</b> Structured replies, extended headers and the selected metadata contexts ({@link MetaContexts})
 * accumulate across options and are all forgotten after STARTTLS. A SET_META_CONTEXT selection is bound to the
 * export it named and is dropped if GO names another one.
 *
 * <p><b>Modes.</b> With TLS required (FORCEDTLS) everything but STARTTLS and ABORT gets ERR_TLS_REQD until TLS is
 * up. While the server shuts down everything but ABORT gets ERR_SHUTDOWN. EXPORT_NAME cannot carry an error, so
 * where it would fail the connection is closed, as the spec says.
 *
 * <p><b>Mutual TLS and authorisation.</b> With client certificates required, STARTTLS demands one the context
 * trusts, and the name in it is the node this connection speaks for ({@link ClientChannel}): LIST shows it only the
 * exports {@link ExportAccess} lets it open, and INFO, GO, LIST/SET_META_CONTEXT on any other name get
 * NBD_REP_ERR_POLICY (EXPORT_NAME, which cannot carry an error, closes the connection), each refusal logged with the
 * node and its address ({@link ClientExports}).
 *
 * <p><b>Bounds.</b> Option data above {@link #MAX_OPTION_DATA} is drained and refused with ERR_TOO_BIG; above
 * {@link #MAX_DRAIN} or after {@link #MAX_OPTIONS} options the client is treated as hostile and dropped.
 */
public final class Handshake {
  private static final Logger log = LoggerFactory.getLogger(Handshake.class);

  /** Largest option data we parse: names and queries are at most 4096 bytes each. */
  static final int MAX_OPTION_DATA = 64 * 1024;
  /** Largest option data we drain before giving up on the client. */
  static final long MAX_DRAIN = 1 << 20;
  /** Options per connection before the client is considered hostile. */
  static final int MAX_OPTIONS = 1024;

  private final boolean tlsRequired;
  private final BooleanSupplier shuttingDown;
  private final ClientChannel client;
  private final ClientExports exports;
  private final MetaContexts metaContexts;

  private boolean noZeroes;
  private boolean structured;
  private boolean extended;

  /**
   * @param tls the server's TLS context, or null when STARTTLS is not offered
   * @param tlsRequired refuse everything but STARTTLS and ABORT until TLS is up
   * @param shuttingDown answers true once the server is stopping (lame duck)
   */
  public Handshake(
      ChannelTransport transport,
      ExportProvider provider,
      @Nullable SSLContext tls,
      boolean tlsRequired,
      BooleanSupplier shuttingDown) {
    this(transport, provider, tls, tlsRequired, false, ExportAccess.ALL, shuttingDown);
  }

  /**
   * As above; with {@code clientCertificates}, STARTTLS requires a trusted client certificate and {@code access}
   * decides which exports the node it names may list and open.
   */
  public Handshake(
      ChannelTransport transport,
      ExportProvider provider,
      @Nullable SSLContext tls,
      boolean tlsRequired,
      boolean clientCertificates,
      ExportAccess access,
      BooleanSupplier shuttingDown) {
    this.client = new ClientChannel(transport, tls, clientCertificates);
    this.exports = new ClientExports(provider, access, client);
    this.metaContexts = new MetaContexts(client, exports);
    this.tlsRequired = tlsRequired;
    this.shuttingDown = shuttingDown;
    if (tlsRequired && tls == null) {
      throw new IllegalArgumentException("TLS required but no TLS context given");
    }
  }

  /**
   * Runs the handshake to its end: a session ready for transmission, or empty when the client aborted or had to
   * be refused. Throws on I/O errors and on protocol violations that lose framing; the caller closes the stream.
   */
  public Optional<Session> run() throws IOException {
    var greeting = ByteBuffer.allocate(18);
    OptionCodec.greeting(greeting, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
    client.write(greeting.flip());
    var clientFlags = ByteBuffer.allocate(4);
    client.readFully(clientFlags);
    int cflags = clientFlags.flip().getInt();
    if ((cflags & ~(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)) != 0) {
      throw new ProtocolException("unknown client flags 0x" + Integer.toHexString(cflags));
    }
    noZeroes = (cflags & FLAG_C_NO_ZEROES) != 0;
    boolean fixed = (cflags & FLAG_C_FIXED_NEWSTYLE) != 0;

    var header = ByteBuffer.allocate(OPTION_HEADER_SIZE);
    for (int count = 0; count < MAX_OPTIONS; count++) {
      header.clear();
      client.readFully(header);
      var h = OptionCodec.decodeHeader(header.flip());
      if (!fixed && h.option() != OPT_EXPORT_NAME) {
        throw new ProtocolException("non-fixed newstyle client sent " + optionName(h.option()));
      }
      if (h.length() > MAX_DRAIN) {
        throw new ProtocolException(optionName(h.option()) + " announces " + h.length() + " bytes of data");
      }
      if (h.length() > MAX_OPTION_DATA) {
        client.skip(h.length(), ByteBuffer.allocate(8192));
        client.reply(h.option(), REP_ERR_TOO_BIG, "option data too large");
        continue;
      }
      var data = ByteBuffer.allocate((int) h.length());
      client.readFully(data);
      data.flip();
      if (log.isDebugEnabled()) {
        log.debug("option {} ({} bytes)", optionName(h.option()), h.length());
      }
      Optional<Step> step = refusal(h.option());
      if (step.isEmpty()) {
        step = Optional.of(option(h.option(), data));
      }
      switch (step.get()) {
        case Step.Continue c -> {}
        case Step.Done d -> {
          return d.session();
        }
      }
    }
    throw new ProtocolException("more than " + MAX_OPTIONS + " options");
  }

  /** What an option handler decided: go on with the next option, or end the handshake. */
  private sealed interface Step {
    record Continue() implements Step {}

    record Done(Optional<Session> session) implements Step {}
  }

  private static final Step CONTINUE = new Step.Continue();

  /** The answer to an option the server will not consider now (TLS required, shutting down), if any. */
  private Optional<Step> refusal(int option) throws IOException {
    if (option == OPT_ABORT) {
      return Optional.empty();
    }
    if (shuttingDown.getAsBoolean()) {
      if (option == OPT_EXPORT_NAME) {
        return Optional.of(new Step.Done(Optional.empty()));
      }
      client.reply(option, REP_ERR_SHUTDOWN, "server is shutting down");
      return Optional.of(CONTINUE);
    }
    if (tlsRequired && !client.isTls() && option != OPT_STARTTLS) {
      if (option == OPT_EXPORT_NAME) {
        log.info("refused EXPORT_NAME before STARTTLS on a TLS-only server");
        return Optional.of(new Step.Done(Optional.empty()));
      }
      client.reply(option, REP_ERR_TLS_REQD, "this server requires TLS: send NBD_OPT_STARTTLS first");
      return Optional.of(CONTINUE);
    }
    return Optional.empty();
  }

  private Step option(int option, ByteBuffer data) throws IOException {
    return switch (option) {
      case OPT_EXPORT_NAME -> exportName(data);
      case OPT_ABORT -> abort();
      case OPT_LIST -> list(data);
      case OPT_STARTTLS -> startTls(data);
      case OPT_INFO -> info(data, false);
      case OPT_GO -> info(data, true);
      case OPT_STRUCTURED_REPLY -> structuredReply(data);
      case OPT_LIST_META_CONTEXT -> {
        metaContexts.list(data);
        yield CONTINUE;
      }
      case OPT_SET_META_CONTEXT -> {
        metaContexts.set(data, structured);
        yield CONTINUE;
      }
      case OPT_EXTENDED_HEADERS -> extendedHeaders(data);
      default -> {
        client.reply(option, REP_ERR_UNSUP, "unsupported option " + Integer.toUnsignedString(option));
        yield CONTINUE;
      }
    };
  }

  /** NBD_OPT_EXPORT_NAME: no option reply; size, flags and (unless NO_ZEROES) 124 zero bytes, or a close. */
  private Step exportName(ByteBuffer data) throws IOException {
    if (extended) {
      log.info("refused EXPORT_NAME after extended headers (the client must use GO)");
      return new Step.Done(Optional.empty());
    }
    String name;
    try {
      name = OptionCodec.decodeExportRequest(lengthPrefixed(data)).name();
    } catch (OptionFormatException e) {
      log.info("refused EXPORT_NAME: {}", e.getMessage());
      return new Step.Done(Optional.empty());
    }
    if (exports.refusal(name).isPresent()) {
      exports.refused(OPT_EXPORT_NAME, name);
      return new Step.Done(Optional.empty());
    }
    Optional<Export> export = exports.open(name);
    if (export.isEmpty()) {
      log.info("refused EXPORT_NAME '{}': no such export", name);
      return new Step.Done(Optional.empty());
    }
    var info = ExportInfo.of(export.get(), structured);
    var reply = ByteBuffer.allocate(noZeroes ? 10 : 134);
    reply.putLong(info.size()).putShort((short) info.transmissionFlags());
    try {
      client.write(reply.position(reply.capacity()).flip());
    } catch (IOException e) {
      export.get().close();
      throw e;
    }
    return new Step.Done(Optional.of(session(export.get(), info)));
  }

  /** EXPORT_NAME data is the bare name; reuse the GO parser by prefixing its length and a zero info count. */
  private static ByteBuffer lengthPrefixed(ByteBuffer name) {
    var buf = ByteBuffer.allocate(4 + name.remaining() + 2);
    buf.putInt(name.remaining()).put(name).putShort((short) 0);
    return buf.flip();
  }

  /** NBD_OPT_ABORT: ACK, then the client closes (soft disconnect). */
  private Step abort() throws IOException {
    try {
      client.reply(OPT_ABORT, REP_ACK);
    } catch (IOException e) {
      // Both sides must tolerate the peer closing without the ACK.
      log.debug("ABORT ack not delivered: {}", e.getMessage());
    }
    return new Step.Done(Optional.empty());
  }

  /** NBD_OPT_LIST: one NBD_REP_SERVER (name and description) per export, then ACK. */
  private Step list(ByteBuffer data) throws IOException {
    if (data.hasRemaining()) {
      client.reply(OPT_LIST, REP_ERR_INVALID, "LIST takes no data");
      return CONTINUE;
    }
    List<ExportProvider.Listing> listings;
    try {
      listings = exports.list();
    } catch (IOException e) {
      log.warn("LIST failed: {}", e.toString());
      client.reply(OPT_LIST, REP_ERR_PLATFORM, "cannot list exports: " + e.getMessage());
      return CONTINUE;
    }
    for (var l : listings) {
      if (exports.refusal(l.name()).isEmpty()) {
        client.reply(OPT_LIST, REP_SERVER, OptionCodec.server(l.name(), l.description()));
      }
    }
    client.reply(OPT_LIST, REP_ACK);
    return CONTINUE;
  }

  /** NBD_OPT_STARTTLS: ACK, TLS handshake on the same socket, forget all earlier negotiation. */
  private Step startTls(ByteBuffer data) throws IOException {
    if (!client.startTls(data)) {
      return CONTINUE;
    }
    structured = false;
    extended = false;
    metaContexts.forget();
    log.debug("TLS established");
    return CONTINUE;
  }

  /** NBD_OPT_INFO and NBD_OPT_GO: NBD_REP_INFO items (EXPORT, NAME, DESCRIPTION, BLOCK_SIZE), then ACK. */
  private Step info(ByteBuffer data, boolean go) throws IOException {
    int option = go ? OPT_GO : OPT_INFO;
    OptionCodec.ExportRequest request;
    try {
      request = OptionCodec.decodeExportRequest(data);
    } catch (OptionFormatException e) {
      client.reply(option, REP_ERR_INVALID, e.getMessage());
      return CONTINUE;
    }
    Optional<String> refused = exports.refused(option, request.name());
    if (refused.isPresent()) {
      client.reply(option, REP_ERR_POLICY, refused.get());
      return CONTINUE;
    }
    Optional<Export> opened;
    try {
      opened = exports.open(request.name());
    } catch (IOException e) {
      log.warn("export '{}' cannot be opened: {}", request.name(), e.toString());
      client.reply(option, REP_ERR_UNKNOWN, "export '" + request.name() + "' is not available: " + e.getMessage());
      return CONTINUE;
    }
    if (opened.isEmpty()) {
      client.reply(option, REP_ERR_UNKNOWN, "no export named '" + request.name() + "'");
      return CONTINUE;
    }
    Export export = opened.get();
    boolean handedOver = false;
    try {
      var info = ExportInfo.of(export, structured);
      client.reply(option, REP_INFO, OptionCodec.infoExport(info.size(), info.transmissionFlags()));
      if (request.infos().contains(INFO_NAME)) {
        client.reply(option, REP_INFO, OptionCodec.infoText(INFO_NAME, info.name()));
      }
      if (request.infos().contains(INFO_DESCRIPTION)) {
        client.reply(option, REP_INFO, OptionCodec.infoText(INFO_DESCRIPTION, info.description()));
      }
      // Sent even when not requested (allowed): clients that do not ask get limits we also enforce gently.
      client.reply(
          option,
          REP_INFO,
          OptionCodec.infoBlockSize(info.minimumBlockSize(), info.preferredBlockSize(), info.maximumPayload()));
      client.reply(option, REP_ACK);
      if (!go) {
        return CONTINUE;
      }
      handedOver = true;
      return new Step.Done(Optional.of(session(export, info)));
    } finally {
      if (!handedOver) {
        export.close();
      }
    }
  }

  /** NBD_OPT_STRUCTURED_REPLY: ACK; READ replies become structured. */
  private Step structuredReply(ByteBuffer data) throws IOException {
    if (data.hasRemaining()) {
      client.reply(OPT_STRUCTURED_REPLY, REP_ERR_INVALID, "STRUCTURED_REPLY takes no data");
      return CONTINUE;
    }
    if (extended) {
      // Extended headers already imply structured replies and cannot be downgraded.
      client.reply(OPT_STRUCTURED_REPLY, REP_ERR_EXT_HEADER_REQD, "extended headers are already on");
      return CONTINUE;
    }
    structured = true;
    client.reply(OPT_STRUCTURED_REPLY, REP_ACK);
    return CONTINUE;
  }

  /** NBD_OPT_EXTENDED_HEADERS: ACK; 32-byte headers both ways, structured replies implied. */
  private Step extendedHeaders(ByteBuffer data) throws IOException {
    if (data.hasRemaining()) {
      client.reply(OPT_EXTENDED_HEADERS, REP_ERR_INVALID, "EXTENDED_HEADERS takes no data");
      return CONTINUE;
    }
    extended = true;
    structured = true;
    client.reply(OPT_EXTENDED_HEADERS, REP_ACK);
    return CONTINUE;
  }

  private Session session(Export export, ExportInfo info) {
    List<String> contexts = metaContexts.selectedFor(info.name());
    return new Session(client.transport(), export, info, structured, extended, contexts);
  }
}
