package io.bucketdisk.store.object;

import software.amazon.awssdk.services.s3.S3Client;

/**
 * The SDK clients of one {@link S3ObjectStore}, in the upload form its start-up probe chose: {@link #client()} for
 * every request, and {@link #forPut} for a PUT, which sends large unconditional bodies plain. Thread safe: the probe
 * switches the form ({@link #useUploadForm}, {@link #bulkAsProbed}) before the store is shared, and the fields are
 * volatile. {@link #close()} closes both clients.
 */
final class S3Connection implements AutoCloseable {
  /**
   * PUTs of at least this many bytes without a condition (chunk objects, log segments) always go as plain bodies,
   * whichever form the probe chose for the rest. The SDK's aws-chunked encoder (its default over http) allocates a
   * fresh array per 128 KiB piece: by hand, 605 MB of the gateway's 2 GB of garbage in a 512 MiB sequential write. A
   * plain body is read from its content provider without a copy. The small and conditional writes (manifests, leases,
   * the probe's race) keep the probed form.
   */
  static final int BULK_BYTES = 64 << 10;

  private final S3ObjectStore.Config config;
  private volatile S3Client s3;
  /** Large unconditional PUTs (chunks, log segments): see {@link #BULK_BYTES}. The same client as s3 when plain. */
  private volatile S3Client bulk;
  private volatile boolean streaming = true;
  private volatile boolean requestChecksums;

  /** Clients in the SDK's default form (aws-chunked uploads), with request checksums where S3 supports them or not. */
  S3Connection(S3ObjectStore.Config config, boolean requestChecksums) {
    this.config = config;
    this.requestChecksums = requestChecksums;
    this.s3 = S3Clients.build(config, true, requestChecksums);
    this.bulk = S3Clients.build(config, false, requestChecksums);
  }

  S3Client client() {
    return s3;
  }

  /** The client for a PUT of {@code length} bytes: see {@link #BULK_BYTES}. */
  S3Client forPut(long length, boolean conditional) {
    return length >= BULK_BYTES && !conditional ? bulk : s3;
  }

  void useUploadForm(boolean streamingUploads, boolean checksums) {
    if (streamingUploads != streaming || checksums != requestChecksums) {
      close();
      s3 = S3Clients.build(config, streamingUploads, checksums);
      bulk = streamingUploads ? S3Clients.build(config, false, checksums) : s3;
      streaming = streamingUploads;
      requestChecksums = checksums;
    }
  }

  /** The probe found plain bodies refused where the chosen form works: bulk uploads use that form too. */
  void bulkAsProbed() {
    if (bulk != s3) {
      bulk.close();
      bulk = s3;
    }
  }

  boolean streaming() {
    return streaming;
  }

  boolean requestChecksums() {
    return requestChecksums;
  }

  @Override
  public void close() {
    s3.close();
    if (bulk != s3) {
      bulk.close();
    }
  }
}
