package io.bucketdisk.benchmarks;

import io.bucketdisk.nbd.wire.NbdConstants;
import io.bucketdisk.nbd.wire.ReplyEncoder;
import io.bucketdisk.nbd.wire.RequestDecoder;
import io.bucketdisk.nbd.wire.RequestHeader;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The per-request wire work of the gateway: decoding a request header and encoding its reply header, in the
 * compact/simple and extended forms. Run: see docs/BENCHMARKING.md.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class WireCodecBenchmark {
  private final ByteBuffer compact = ByteBuffer.allocateDirect(28);
  private final ByteBuffer extended = ByteBuffer.allocateDirect(32);
  private final ByteBuffer reply = ByteBuffer.allocateDirect(64);

  @Setup
  public void setup() {
    RequestDecoder.encode(compact, new RequestHeader(0, NbdConstants.CMD_READ, 42, 1 << 20, 4096, false));
    RequestDecoder.encode(
        extended,
        new RequestHeader(NbdConstants.CMD_FLAG_PAYLOAD_LEN, NbdConstants.CMD_WRITE, 42, 1 << 20, 4096, true));
  }

  @Benchmark
  public RequestHeader decodeCompact() throws Exception {
    return RequestDecoder.decode(compact.clear(), false);
  }

  @Benchmark
  public RequestHeader decodeExtended() throws Exception {
    return RequestDecoder.decode(extended.clear(), true);
  }

  @Benchmark
  public ByteBuffer encodeSimpleReply() {
    reply.clear();
    ReplyEncoder.simple(reply, 0, 42);
    return reply;
  }

  @Benchmark
  public ByteBuffer encodeStructuredReadChunk() {
    reply.clear();
    ReplyEncoder.chunk(reply, false, NbdConstants.REPLY_FLAG_DONE, NbdConstants.REPLY_TYPE_OFFSET_DATA, 42, 4096,
        4104);
    reply.putLong(4096);
    return reply;
  }

  @Benchmark
  public ByteBuffer decodeAndReply() throws Exception {
    RequestHeader h = RequestDecoder.decode(compact.clear(), false);
    reply.clear();
    ReplyEncoder.simple(reply, 0, h.cookie());
    return reply;
  }
}
