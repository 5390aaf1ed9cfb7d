package io.bucketdisk.store.object;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The start-up compatibility probe: exercises, against the real bucket and under a scratch prefix
 * ({@code <prefix>.bucketdisk-probe/<uuid>/}, deleted afterwards), every S3 feature the layout relies on, and
 * switches the store to the form of each that works. About 25 small requests.
 *
 * <ol>
 *   <li>PUT of an empty and a non-empty object as the SDK sends them by default (aws-chunked, checksum trailer); when
 *       refused with a 4xx, as plain bodies with checksums in headers, then with checksums only where S3 requires
 *       them; the first form that works stays in use;
 *   <li>{@code If-None-Match: *} on an existing key (must be refused);
 *   <li>{@code If-Match} with the ETag as the server returned it (quoted), else unquoted; the form that matches
 *       stays in use. Then a stale ETag and a missing key (both must be refused);
 *   <li>{@value #RACE_WRITERS} PUTs racing with one {@code If-Match} ETag (exactly one may win), each holding its
 *       last byte until all have sent the rest, up to {@value #RACE_ROUNDS} rounds until one shows more than one
 *       winner;
 *   <li>a ranged GET; ListObjectsV2 paging with max-keys 2; DeleteObjects (else
 *       single DELETEs).
 * </ol>
 *
 * Errors other than the refusals it looks for (403, NoSuchBucket, an unreachable endpoint) escape as the
 * {@link ObjectStoreException} of the failing request, which names the fix.
 */
final class S3Probe {
  private static final Logger log = LoggerFactory.getLogger(S3Probe.class);
  static final int RACE_WRITERS = 8;
  static final int RACE_ROUNDS = 4;
  static final int RACE_BYTES = 256 << 10;
  /** How long a racing writer holds its last byte for the others at most. */
  static final long RACE_PATIENCE_MILLIS = 2_000;

  private final S3ObjectStore store;
  private final S3Connection connection;
  private final S3Preconditions preconditions;
  private final S3Deletes deletes;
  private final String base = ".bucketdisk-probe/" + UUID.randomUUID() + "/";
  private final List<String> written = new ArrayList<>();

  /** A probe of {@code store} that switches its parts to the forms that work. */
  S3Probe(S3ObjectStore store, S3Connection connection, S3Preconditions preconditions, S3Deletes deletes) {
    this.store = store;
    this.connection = connection;
    this.preconditions = preconditions;
    this.deletes = deletes;
  }

  S3Compatibility run(boolean tryStreamingChecksums) throws ObjectStoreException {
    try {
      return probe(tryStreamingChecksums);
    } finally {
      try {
        deletes.deleteEach(written);
      } catch (ObjectStoreException e) {
        log.debug("probe keys under {} not deleted: {}", base, e.getMessage());
      }
    }
  }

  private S3Compatibility probe(boolean tryStreamingChecksums) throws ObjectStoreException {
    String a = key("a");
    String empty = key("empty");
    // The upload forms, in order of preference: aws-chunked with checksums (the SDK default), plain bodies with
    // checksums in headers, plain bodies with checksums only where required. The first form under which both a
    // non-empty and an empty object (a tombstone) are stored stays in use.
    boolean[][] forms = tryStreamingChecksums
        ? new boolean[][] {{true, true}, {false, true}, {false, false}}
        : new boolean[][] {{true, false}, {false, false}};
    String streamingRejection = null;
    String checksumRejection = null;
    String etag1 = null;
    for (int i = 0; etag1 == null; i++) {
      boolean streaming = forms[i][0];
      boolean checksums = forms[i][1];
      connection.useUploadForm(streaming, checksums);
      try {
        store.put(empty, ByteBuffer.allocate(0));
        etag1 = store.put(a, bytes("probe-1"));
      } catch (ObjectStoreException e) {
        boolean refusal = e.httpStatus() >= 400 && e.httpStatus() < 500 && e.httpStatus() != 404
            || e.httpStatus() == 501;
        if (!refusal || i == forms.length - 1) {
          throw e; // with the real reason, when the form was not it
        }
        String code = rejection(e);
        if (streaming) {
          streamingRejection = code;
        } else {
          checksumRejection = code;
        }
      }
    }
    String plainBodyRejection = bulkUploads(key("bulk"));
    if (store.get(empty).map(o -> o.bytes().length != 0).orElse(true)) {
      throw new ObjectStoreException(ObjectStoreException.Kind.PERMANENT, 0, "store " + store.describe()
          + ": an empty object did not read back empty; use another S3 server (see docs/troubleshooting.md)");
    }
    boolean createOnly = refused(a, "probe-2", WriteCondition.ifNoneMatch());

    preconditions.ifMatchUnquoted(false);
    String etag3 = conditionalPut(a, "probe-3", etag1);
    boolean unquoted = false;
    if (etag3 == null) {
      preconditions.ifMatchUnquoted(true);
      etag3 = conditionalPut(a, "probe-3", etag1);
      unquoted = etag3 != null;
      if (etag3 == null) {
        preconditions.ifMatchUnquoted(false);
      }
    }
    boolean ifMatch = etag3 != null
        && refused(a, "probe-4", WriteCondition.ifMatch(etag1))
        && refused(key("missing"), "probe-5", WriteCondition.ifMatch(etag3))
        && store.head(key("missing")).isEmpty();

    // Rounds go on while each has exactly one winner; a round spoiled by a failed request (seen: s3proxy dropping a
    // racing PUT's body) proves nothing. No conclusive round at all counts as not atomic.
    int winners = etag3 == null ? 0 : -1;
    boolean conclusive = false;
    for (int round = 0; etag3 != null && round < RACE_ROUNDS && (!conclusive || winners == 1); round++) {
      int w = race(key("race"));
      if (w >= 0) {
        conclusive = true;
        winners = w;
      }
    }
    boolean ranged = rangedGet(key("range"));
    boolean paging = listPaging();
    String batchRejection = batchDelete();
    return new S3Compatibility(streamingRejection, connection.streaming(), checksumRejection,
        connection.requestChecksums(), plainBodyRejection, unquoted,
        createOnly, ifMatch, winners, RACE_WRITERS, ranged, paging, batchRejection);
  }

  private String key(String name) {
    String k = base + name;
    written.add(k);
    return k;
  }

  /**
   * One upload of {@link S3Connection#BULK_BYTES} as a plain body (how chunks and log segments go); a server that
   * refuses it with a 4xx gets every upload in the probed form.
   */
  private @Nullable String bulkUploads(String key) throws ObjectStoreException {
    try {
      store.put(key, ByteBuffer.allocate(S3Connection.BULK_BYTES));
      return null;
    } catch (ObjectStoreException e) {
      if (e.httpStatus() < 400 || e.httpStatus() >= 500 || e.httpStatus() == 404) {
        throw e;
      }
      log.debug("{}: plain-body uploads refused ({}); bulk uploads use the probed form", store.describe(),
          e.errorCode());
      connection.bulkAsProbed();
      return rejection(e);
    }
  }

  /** How a refusal is named in {@link S3Compatibility}: the error code, else the HTTP status. */
  private static String rejection(ObjectStoreException e) {
    return e.errorCode() != null ? e.errorCode() : "HTTP " + e.httpStatus();
  }

  private static ByteBuffer bytes(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
  }

  /** True when the conditional PUT was refused as a failed precondition; false when it was stored. */
  private boolean refused(String key, String data, WriteCondition condition) throws ObjectStoreException {
    return refused(key, bytes(data), condition, UnaryOperator.identity());
  }

  /** True when the conditional PUT (its body read through {@code body}) was refused as a failed precondition. */
  private boolean refused(String key, ByteBuffer data, WriteCondition condition, UnaryOperator<InputStream> body)
      throws ObjectStoreException {
    try {
      store.put(key, new ByteBuffer[] {data}, condition, body);
      return false;
    } catch (ObjectStoreException e) {
      if (e.isPrecondition()) {
        return true;
      }
      throw e;
    }
  }

  private @Nullable String conditionalPut(String key, String data, String etag) throws ObjectStoreException {
    try {
      return store.put(key, bytes(data), WriteCondition.ifMatch(etag));
    } catch (ObjectStoreException e) {
      if (e.isPrecondition()) {
        return null;
      }
      throw e;
    }
  }

  /** How many of the racing writers won, or -1 when one failed for another reason than the precondition. */
  private int race(String key) throws ObjectStoreException {
    String etag = store.put(key, bytes("race-free"));
    CountDownLatch go = new CountDownLatch(1);
    CountDownLatch atTail = new CountDownLatch(RACE_WRITERS);
    List<Future<Boolean>> results = new ArrayList<>();
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < RACE_WRITERS; i++) {
        // Each body's last byte is held until every writer has sent the rest (HeldTailInputStream): left to timing,
        // s3proxy, which checks If-Match before it reads the body, let one writer win in every round now and then.
        byte[] data = new byte[RACE_BYTES];
        java.util.Arrays.fill(data, (byte) ('a' + i));
        results.add(pool.submit(() -> {
          go.await();
          return !refused(key, ByteBuffer.wrap(data), WriteCondition.ifMatch(etag),
              body -> new HeldTailInputStream(body, data.length, atTail, RACE_PATIENCE_MILLIS));
        }));
      }
      go.countDown();
      int wins = 0;
      boolean spoiled = false;
      for (Future<Boolean> f : results) {
        try {
          wins += f.get() ? 1 : 0;
        } catch (ExecutionException e) {
          log.debug("{}: a racing probe writer failed: {}", store.describe(), e.getCause().toString());
          spoiled = true;
        }
      }
      return spoiled ? -1 : wins;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ObjectStoreException(ObjectStoreException.Kind.TRANSIENT, 0, "interrupted during the store probe");
    }
  }

  private boolean rangedGet(String key) throws ObjectStoreException {
    store.put(key, bytes("0123456789"));
    ByteBuffer four = ByteBuffer.allocate(4);
    try {
      return store.read(key, 3, four) == 4 && new String(four.array(), StandardCharsets.UTF_8).equals("3456");
    } catch (ObjectStoreException e) {
      if (e.isTransient()) {
        throw e;
      }
      return false;
    }
  }

  private boolean listPaging() throws ObjectStoreException {
    String dir = base + "list/";
    List<String> expected = new ArrayList<>();
    for (String n : List.of("1", "2", "3")) {
      String k = key("list/" + n);
      store.put(k, bytes(n));
      expected.add(k);
    }
    List<String> seen = new ArrayList<>();
    String token = null;
    for (int page = 0; page < 4; page++) {
      ListPage p = store.list(dir, token, 2);
      if (p.objects().size() > 2) {
        return false;
      }
      p.objects().forEach(o -> seen.add(o.key()));
      token = p.nextToken();
      if (token == null) {
        break;
      }
    }
    return token == null && seen.equals(expected);
  }

  private @Nullable String batchDelete() throws ObjectStoreException {
    String x = key("delete/x");
    String y = key("delete/y");
    store.put(x, bytes("x"));
    store.put(y, bytes("y"));
    try {
      deletes.deleteBatch(List.of(x, y, base + "delete/never-existed"));
    } catch (ObjectStoreException e) {
      if (e.isTransient()) {
        throw e;
      }
      deletes.batchDeletes(false);
      return rejection(e);
    }
    if (!store.list(base + "delete/", null, 10).objects().isEmpty()) {
      deletes.batchDeletes(false);
      return "keys left behind";
    }
    return null;
  }
}
