package io.bucketdisk.nbd.server;

import static io.bucketdisk.nbd.wire.NbdConstants.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.bucketdisk.nbd.RawClient;
import io.bucketdisk.nbd.TestServer;
import io.bucketdisk.nbd.wire.OptionCodec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Raw-wire probe of every handshake option against the real listener (NBD spec "Option haggling"). */
@Timeout(30)
class HandshakeConformanceIT {
  static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = new TestServer();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  @Test
  void greetingIsFixedNewstyleWithNoZeroes() throws Exception {
    try (var c = server.client()) {
      ByteBuffer g = c.greeting();
      assertThat(g.getLong(0)).isEqualTo(NBDMAGIC);
      assertThat(g.getLong(8)).isEqualTo(IHAVEOPT);
      assertThat(g.getShort(16)).isEqualTo((short) 3);
    }
  }

  @Test
  void aClientStallingInTheHandshakeIsCutOffAndAFinishedOneIsNot() throws Exception {
    var options = ServerOptions.defaults().withHandshakeTimeout(java.time.Duration.ofMillis(300));
    try (var short_ = new TestServer(TestServer.defaultProvider(1 << 20), options);
        var stalled = short_.client();
        var prompt = short_.client().start()) {
      stalled.greeting(); // and then nothing: no client flags
      assertThat(prompt.go("demo").getLast().type()).isEqualTo(REP_ACK);
      assertThat(stalled.closedWithin(5000)).as("stalled in the handshake").isTrue();
      Thread.sleep(600);
      assertThat(prompt.closedWithin(50)).as("a finished handshake is not cut off").isFalse();
    }
  }

  @Test
  void unknownClientFlagDropsTheConnection() throws Exception {
    try (var c = server.client()) {
      c.greeting();
      c.clientFlags(1 << 5 | FLAG_C_FIXED_NEWSTYLE);
      assertThat(c.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void unknownOptionGetsErrUnsupAndTheHandshakeGoesOn() throws Exception {
    try (var c = server.client().start()) {
      c.option(4242);
      var r = c.optionReply();
      assertThat(r.option()).isEqualTo(4242);
      assertThat(r.type()).isEqualTo(REP_ERR_UNSUP);
      c.option(OPT_PEEK_EXPORT);
      assertThat(c.optionReply().type()).isEqualTo(REP_ERR_UNSUP);
      assertThat(c.go("demo").getLast().type()).isEqualTo(REP_ACK);
    }
  }

  @Test
  void listNamesEveryExportWithItsDescription() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_LIST);
      var replies = c.optionReplies();
      assertThat(replies.getLast().type()).isEqualTo(REP_ACK);
      var servers = replies.subList(0, replies.size() - 1);
      assertThat(servers).allMatch(r -> r.type() == REP_SERVER);
      var first = servers.getFirst().data();
      int len = first.getInt();
      assertThat(StandardCharsets.UTF_8.decode(first.slice(4, len)).toString()).isEqualTo("demo");
      assertThat(StandardCharsets.UTF_8.decode(first.slice(4 + len, first.limit() - 4 - len)).toString())
          .isEqualTo(demoDescription());
      assertThat(servers).hasSize(3);
    }
  }

  @Test
  void listWithDataIsInvalid() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_LIST, ByteBuffer.wrap(new byte[] {1, 2}));
      assertThat(c.optionReply().type()).isEqualTo(REP_ERR_INVALID);
    }
  }

  @Test
  void abortIsAcknowledged() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_ABORT);
      assertThat(c.optionReply().type()).isEqualTo(REP_ACK);
      assertThat(c.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void infoReturnsExportNameDescriptionAndBlockSizeThenGoWorks() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_INFO, OptionCodec.encodeExportRequest("demo", INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE));
      var replies = c.optionReplies();
      assertThat(replies.getLast().type()).isEqualTo(REP_ACK);
      ByteBuffer export = info(replies, INFO_EXPORT);
      assertThat(export.remaining()).isEqualTo(12);
      assertThat(export.getLong(2)).isEqualTo(64L << 20);
      int flags = export.getShort(10) & 0xffff;
      assertThat(flags & FLAG_HAS_FLAGS).isNotZero();
      assertThat(flags & FLAG_ROTATIONAL).isZero();
      assertThat(flags & FLAG_READ_ONLY).isZero();
      assertThat(flags & FLAG_SEND_DF).as("DF needs structured replies").isZero();
      assertThat(flags & (FLAG_SEND_FLUSH | FLAG_SEND_FUA | FLAG_SEND_TRIM | FLAG_SEND_WRITE_ZEROES
              | FLAG_CAN_MULTI_CONN | FLAG_SEND_CACHE | FLAG_SEND_FAST_ZERO))
          .isEqualTo(FLAG_SEND_FLUSH | FLAG_SEND_FUA | FLAG_SEND_TRIM | FLAG_SEND_WRITE_ZEROES
              | FLAG_CAN_MULTI_CONN | FLAG_SEND_CACHE | FLAG_SEND_FAST_ZERO);
      assertThat(text(info(replies, INFO_NAME))).isEqualTo("demo");
      assertThat(text(info(replies, INFO_DESCRIPTION))).isEqualTo(demoDescription());
      ByteBuffer bs = info(replies, INFO_BLOCK_SIZE);
      assertThat(bs.remaining()).isEqualTo(14);
      assertThat(bs.getInt(2)).isEqualTo(1);
      assertThat(bs.getInt(6)).isEqualTo(4096);
      assertThat(bs.getInt(10)).isEqualTo(32 << 20);
      assertThat(c.go("demo").getLast().type()).isEqualTo(REP_ACK);
      c.request(0, CMD_READ, 7, 0, 512);
      var s = c.simple();
      assertThat(s.cookie()).isEqualTo(7);
      assertThat(s.error()).isZero();
    }
  }

  @Test
  void readOnlyExportAdvertisesReadOnlyAndNoWriteCommands() throws Exception {
    try (var c = server.client().start()) {
      var replies = c.go("ro");
      int flags = info(replies, INFO_EXPORT).getShort(10) & 0xffff;
      assertThat(flags & FLAG_READ_ONLY).isNotZero();
      assertThat(flags & (FLAG_SEND_TRIM | FLAG_SEND_WRITE_ZEROES | FLAG_SEND_FAST_ZERO)).isZero();
    }
  }

  @Test
  void emptyNameSelectsTheDefaultExport() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_INFO, OptionCodec.encodeExportRequest("", INFO_NAME));
      var replies = c.optionReplies();
      assertThat(text(info(replies, INFO_NAME))).isEqualTo("demo");
    }
  }

  @Test
  void unknownExportIsErrUnknown() throws Exception {
    try (var c = server.client().start()) {
      var replies = c.go("nope");
      assertThat(replies).hasSize(1);
      assertThat(replies.getFirst().type()).isEqualTo(REP_ERR_UNKNOWN);
      assertThat(replies.getFirst().text()).contains("nope");
      assertThat(c.go("demo").getLast().type()).isEqualTo(REP_ACK);
    }
  }

  @Test
  void malformedInfoIsInvalid() throws Exception {
    try (var c = server.client().start()) {
      // name length overruns the option
      c.option(OPT_GO, ByteBuffer.allocate(8).putInt(100).putShort((short) 0).putShort((short) 0).flip());
      assertThat(c.optionReply().type()).isEqualTo(REP_ERR_INVALID);
      // info count does not match
      c.option(OPT_GO, ByteBuffer.allocate(12).putInt(4).put("demo".getBytes()).putShort((short) 3).flip());
      assertThat(c.optionReply().type()).isEqualTo(REP_ERR_INVALID);
      assertThat(c.go("demo").getLast().type()).isEqualTo(REP_ACK);
    }
  }

  @Test
  void exportNameWithNoZeroesSendsTenBytes() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_EXPORT_NAME, ByteBuffer.wrap("demo".getBytes()));
      var r = c.read(10);
      assertThat(r.getLong()).isEqualTo(64L << 20);
      assertThat(r.getShort() & FLAG_HAS_FLAGS).isNotZero();
      c.request(0, CMD_FLUSH, 9, 0, 0);
      assertThat(c.simple()).isEqualTo(new RawClient.Simple(0, 9));
    }
  }

  @Test
  void exportNameWithoutNoZeroesSendsOneHundredThirtyFourBytes() throws Exception {
    try (var c = server.client()) {
      c.greeting();
      c.clientFlags(FLAG_C_FIXED_NEWSTYLE);
      c.option(OPT_EXPORT_NAME, ByteBuffer.wrap("demo".getBytes()));
      var r = c.read(134);
      assertThat(r.getLong(0)).isEqualTo(64L << 20);
      for (int i = 10; i < 134; i++) {
        assertThat(r.get(i)).isZero();
      }
      c.request(0, CMD_FLUSH, 9, 0, 0);
      assertThat(c.simple().error()).isZero();
    }
  }

  @Test
  void exportNameOfAnUnknownExportCloses() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_EXPORT_NAME, ByteBuffer.wrap("nope".getBytes()));
      assertThat(c.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void structuredReplyTakesNoData() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_STRUCTURED_REPLY, ByteBuffer.wrap(new byte[] {0}));
      assertThat(c.optionReply().type()).isEqualTo(REP_ERR_INVALID);
      c.option(OPT_STRUCTURED_REPLY);
      assertThat(c.optionReply().type()).isEqualTo(REP_ACK);
      var replies = c.go("demo");
      assertThat(info(replies, INFO_EXPORT).getShort(10) & FLAG_SEND_DF).isNotZero();
    }
  }

  @Test
  void metaContextsListAndSet() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_SET_META_CONTEXT, OptionCodec.encodeMetaContextRequest("demo", List.of("base:allocation")));
      assertThat(c.optionReply().type()).as("SET before structured replies").isEqualTo(REP_ERR_INVALID);

      c.option(OPT_LIST_META_CONTEXT, OptionCodec.encodeMetaContextRequest("demo", List.of()));
      var all = c.optionReplies();
      assertThat(all.subList(0, all.size() - 1))
          .extracting(r -> contextName(r.data()))
          .containsExactly("base:allocation", "bucketdisk:dirty", "bucketdisk:allocation-depth");
      assertThat(all.subList(0, all.size() - 1)).allMatch(r -> r.data().getInt(0) == 0);

      c.option(OPT_LIST_META_CONTEXT, OptionCodec.encodeMetaContextRequest("demo", List.of("bucketdisk:")));
      var ours = c.optionReplies();
      assertThat(ours.subList(0, ours.size() - 1))
          .extracting(r -> contextName(r.data()))
          .containsExactly("bucketdisk:dirty", "bucketdisk:allocation-depth");

      c.option(OPT_STRUCTURED_REPLY);
      c.optionReply();
      c.option(
          OPT_SET_META_CONTEXT,
          OptionCodec.encodeMetaContextRequest("demo", List.of("x-unknown:thing", "base:allocation", "base:")));
      var set = c.optionReplies();
      assertThat(set).hasSize(2);
      assertThat(set.getFirst().type()).isEqualTo(REP_META_CONTEXT);
      assertThat(set.getFirst().data().getInt(0)).isNotZero();
      assertThat(contextName(set.getFirst().data())).isEqualTo("base:allocation");

      c.option(OPT_SET_META_CONTEXT, ByteBuffer.allocate(6).putInt(50).putShort((short) 0).flip());
      assertThat(c.optionReply().type()).isEqualTo(REP_ERR_INVALID);
      c.option(OPT_LIST_META_CONTEXT, OptionCodec.encodeMetaContextRequest("nope", List.of()));
      assertThat(c.optionReply().type()).isEqualTo(REP_ERR_UNKNOWN);
    }
  }

  @Test
  void startTlsWithoutACertificateIsRefusedByPolicy() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_STARTTLS);
      assertThat(c.optionReply().type()).isEqualTo(REP_ERR_POLICY);
      assertThat(c.go("demo").getLast().type()).isEqualTo(REP_ACK);
    }
  }

  @Test
  void extendedHeadersThenGo() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_EXTENDED_HEADERS, ByteBuffer.wrap(new byte[] {1}));
      assertThat(c.optionReply().type()).isEqualTo(REP_ERR_INVALID);
      c.option(OPT_EXTENDED_HEADERS);
      assertThat(c.optionReply().type()).isEqualTo(REP_ACK);
      c.option(OPT_STRUCTURED_REPLY);
      assertThat(c.optionReply().type()).isEqualTo(REP_ERR_EXT_HEADER_REQD);
      assertThat(c.go("demo").getLast().type()).isEqualTo(REP_ACK);
      c.extended = true;
      c.structured = true;
      c.request(0, CMD_FLUSH, 11, 0, 0);
      var chunk = c.chunk();
      assertThat(chunk.magic()).isEqualTo(EXTENDED_REPLY_MAGIC);
      assertThat(chunk.type()).isEqualTo(REPLY_TYPE_NONE);
      assertThat(chunk.done()).isTrue();
      assertThat(chunk.cookie()).isEqualTo(11);
    }
  }

  @Test
  void exportNameAfterExtendedHeadersCloses() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_EXTENDED_HEADERS);
      c.optionReply();
      c.option(OPT_EXPORT_NAME, ByteBuffer.wrap("demo".getBytes()));
      assertThat(c.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void oversizedOptionDataIsTooBigAndTheHandshakeGoesOn() throws Exception {
    try (var c = server.client().start()) {
      c.option(OPT_GO, ByteBuffer.allocate(100_000));
      assertThat(c.optionReply().type()).isEqualTo(REP_ERR_TOO_BIG);
      assertThat(c.go("demo").getLast().type()).isEqualTo(REP_ACK);
    }
  }

  @Test
  void hostileOptionLengthDisconnects() throws Exception {
    try (var c = server.client().start()) {
      c.write(ByteBuffer.allocate(16).putLong(IHAVEOPT).putInt(OPT_GO).putInt(-1).flip());
      assertThat(c.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void badOptionMagicDisconnects() throws Exception {
    try (var c = server.client().start()) {
      c.write(ByteBuffer.allocate(16).putLong(0x1234).putInt(OPT_LIST).putInt(0).flip());
      assertThat(c.closedWithin(2000)).isTrue();
    }
  }

  /** What the provider lists as {@code demo}'s description (the store-backed run describes its volume). */
  static String demoDescription() throws java.io.IOException {
    return server.provider.list().stream().filter(l -> l.name().equals("demo")).findFirst().orElseThrow()
        .description();
  }

  static ByteBuffer info(List<RawClient.OptionReply> replies, int type) {
    return replies.stream()
        .filter(r -> r.type() == REP_INFO && (r.data().getShort(0) & 0xffff) == type)
        .findFirst()
        .orElseThrow(() -> new AssertionError("no NBD_REP_INFO of type " + type))
        .data();
  }

  static String text(ByteBuffer info) {
    return StandardCharsets.UTF_8.decode(info.slice(2, info.limit() - 2)).toString();
  }

  static String contextName(ByteBuffer data) {
    return StandardCharsets.UTF_8.decode(data.slice(4, data.limit() - 4)).toString();
  }
}
