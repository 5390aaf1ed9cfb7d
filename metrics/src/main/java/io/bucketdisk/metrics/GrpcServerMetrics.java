package io.bucketdisk.metrics;

import io.grpc.BindableService;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * A gRPC {@link ServerInterceptor} that times every call, from its start to the status the server sends, as the
 * timer {@code bucketdisk.grpc.server.requests} tagged with {@code service} (e.g. {@code csi.v1.Controller}), {@code
 * method} (e.g. {@code CreateVolume}) and {@code code} (the gRPC status code name, {@code OK}, {@code NOT_FOUND}, …).
 * Calls the client cancels before a status is sent are counted with code {@code CANCELLED}.
 *
 * <p>Thread safe; one instance may intercept any number of services and servers sharing a registry. Timers are
 * cached per (method, code), so a call allocates nothing in the steady state beyond gRPC's own objects.
 */
public final class GrpcServerMetrics implements ServerInterceptor {

  /** The timer's name as registered in Micrometer. */
  public static final String REQUESTS = "bucketdisk.grpc.server.requests";

  private final MeterRegistry registry;
  private final ConcurrentMap<String, Timer[]> timers = new ConcurrentHashMap<>();

  public GrpcServerMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  /** {@code service} bound for a server: timed into {@code registry}, or as it is when there is no registry. */
  public static ServerServiceDefinition bind(BindableService service, @Nullable MeterRegistry registry) {
    return registry == null ? service.bindService()
        : ServerInterceptors.intercept(service, new GrpcServerMetrics(registry));
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    long start = System.nanoTime();
    Timer[] byCode = timers.computeIfAbsent(call.getMethodDescriptor().getFullMethodName(), k -> new Timer[17]);
    var timed = new ForwardingServerCall.SimpleForwardingServerCall<Q, R>(call) {
      boolean recorded;

      @Override
      public void close(Status status, Metadata trailers) {
        record(status.getCode());
        super.close(status, trailers);
      }

      void record(Status.Code code) {
        synchronized (this) {
          if (recorded) {
            return;
          }
          recorded = true;
        }
        timer(call, byCode, code).record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
      }
    };
    ServerCall.Listener<Q> listener = next.startCall(timed, headers);
    return new io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener<Q>(listener) {
      @Override
      public void onCancel() {
        timed.record(Status.Code.CANCELLED);
        super.onCancel();
      }
    };
  }

  private Timer timer(ServerCall<?, ?> call, Timer[] byCode, Status.Code code) {
    int i = code.value();
    Timer t = byCode[i];
    if (t == null) {
      var method = call.getMethodDescriptor();
      String service = method.getServiceName();
      String bare = method.getBareMethodName();
      t = LatencyHistogram.timer(REQUESTS)
          .description("gRPC calls served, by method and status code")
          .tag("service", service == null ? "" : service)
          .tag("method", bare == null ? method.getFullMethodName() : bare)
          .tag("code", code.name())
          .register(registry);
      byCode[i] = t;
    }
    return t;
  }
}
