package io.bucketdisk.store.object;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What the start-up probe ({@link S3Probe}) found an S3 server to do, and so how {@link S3ObjectStore} talks to it.
 *
 * @param streamingRejection the error code the server answered the AWS SDK's aws-chunked (streaming) uploads with
 *     (Ceph RGW 16: XAmzContentSHA256Mismatch, for empty bodies and checksum trailers); null when it took them
 * @param streaming whether uploads are sent aws-chunked (the SDK default over http) or as plain bodies
 * @param checksumRejection the error code the server answered request checksums in headers with; null when it
 *     took them or they were not tried ({@code checksum=when-required})
 * @param requestChecksums the checksum mode in use: true = wherever S3 supports one (the SDK default), false =
 *     only where S3 requires one
 * @param plainBodyRejection the error code a large upload as a plain body (how chunk objects and log segments go)
 *     was refused with (then they go in the probed form); null when it was stored
 * @param ifMatchUnquoted true when the server compares {@code If-Match} against the ETag without its quotes (Ceph
 *     RGW 16), so bucketdisk sends it unquoted
 * @param createOnly a second {@code If-None-Match: *} PUT of an existing key was refused
 * @param ifMatch a PUT with a stale ETag, and one naming a missing key, were refused
 * @param raceWinners of {@code raceWriters} PUTs racing with one {@code If-Match} ETag, how many won (1 when the
 *     server checks and writes atomically; -1 when every race was spoiled by failed requests)
 * @param rangedGet a ranged GET returned exactly the requested bytes
 * @param listPaging ListObjectsV2 with max-keys and a continuation token returned every key once, in order
 * @param batchDeleteRejection the error code DeleteObjects was refused with (then keys are deleted one by one);
 *     null when it worked
 */
public record S3Compatibility(@Nullable String streamingRejection, boolean streaming,
    @Nullable String checksumRejection, boolean requestChecksums, @Nullable String plainBodyRejection,
    boolean ifMatchUnquoted,
    boolean createOnly, boolean ifMatch, int raceWinners, int raceWriters, boolean rangedGet, boolean listPaging,
    @Nullable String batchDeleteRejection) {

  /** True when two writers of one key can never both win: the fencing of leases and manifests holds. */
  public boolean fencing() {
    return createOnly && ifMatch && raceWinners == 1;
  }

  /** True when the store must not be used at all (reads or the chunk index would be wrong). */
  public boolean unusable() {
    return !rangedGet || !listPaging;
  }

  /** Each gap and what bucketdisk does about it, in words; empty for a server without gaps. */
  public List<String> gaps(boolean unfencedAccepted) {
    List<String> out = new ArrayList<>();
    if (streamingRejection != null) {
      out.add("aws-chunked uploads refused (" + streamingRejection + ") -> plain uploads, checksums in headers");
    }
    if (checksumRejection != null) {
      out.add("request checksums refused (" + checksumRejection + ") -> checksums only where S3 requires them");
    }
    if (plainBodyRejection != null) {
      out.add("large plain-body uploads refused (" + plainBodyRejection + ") -> chunks and log segments in the "
          + "probed form");
    }
    if (ifMatchUnquoted) {
      out.add("If-Match compared without quotes -> ETags sent unquoted");
    }
    if (batchDeleteRejection != null) {
      out.add("DeleteObjects refused (" + batchDeleteRejection + ") -> one DELETE per key");
    }
    if (!createOnly) {
      out.add("If-None-Match: * ignored");
    }
    boolean neverMatched = !ifMatch && raceWinners == 0;
    if (neverMatched) {
      out.add("If-Match never matched the object's current ETag, quoted or not");
    } else if (!ifMatch) {
      out.add("If-Match with a stale or missing ETag not refused");
    }
    if (raceWinners < 0) {
      out.add("conditional writes of unknown atomicity (every race of If-Match PUTs was spoiled by failed requests)");
    } else if (raceWinners != 1 && !neverMatched) {
      out.add("conditional writes not atomic (" + raceWinners + " of " + raceWriters + " racing If-Match PUTs won)");
    }
    if (!fencing()) {
      out.set(out.size() - 1, out.getLast() + (unfencedAccepted
          ? " -> accepted by accept-unfenced=true: two gateways could both own a volume"
          : " -> refusing to start"));
    }
    if (!rangedGet) {
      out.add("ranged GET returned the wrong bytes -> refusing to start");
    }
    if (!listPaging) {
      out.add("ListObjectsV2 paging lost or repeated keys -> refusing to start");
    }
    return out;
  }

  /** The one start-up line of {@code store}: the server's gaps and what bucketdisk does about them. */
  String startLine(String store, boolean unfencedAccepted) {
    List<String> gaps = gaps(unfencedAccepted);
    return gaps.isEmpty()
        ? store + ": every S3 feature bucketdisk uses works (conditional writes atomic: 1 of " + raceWriters
            + " racing writers won)"
        : store + ": server gaps: " + String.join("; ", gaps);
  }

  /** Why {@code store} does not open: it is {@link #unusable()} or not fenced (and that was not accepted). */
  String refusal(String store) {
    if (unusable()) {
      return store + " cannot hold volumes: " + String.join("; ", gaps(false))
          + "; use another S3 server (see docs/troubleshooting.md)";
    }
    return store + ": " + String.join("; ", gaps(false)) + ": two gateways could both own a "
        + "volume and overwrite each other; use a server with atomic conditional writes (AWS S3, Ceph RGW), or add "
        + "accept-unfenced=true to the store URL to accept that risk";
  }

  /** The compatibility of a server with no gaps (the directory store, tests). */
  public static S3Compatibility full() {
    return new S3Compatibility(null, true, null, true, null, false, true, true, 1, 8, true, true, null);
  }
}
