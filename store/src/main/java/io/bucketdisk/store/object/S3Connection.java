package io.bucketdisk.store.object;

import software.amazon.awssdk.services.s3.S3Client;

/**
 * The SDK client of one {@link S3ObjectStore}, in the upload form its start-up probe chose, and whether
 * unconditional PUTs go as plain bodies ({@link #plainBody}, sent by {@link S3DataRequests}). Thread safe: the probe
 * switches the form ({@link #useUploadForm}, {@link #bulkAsProbed}) before the store is shared, and the fields are
 * volatile. {@link #close()} closes the client.
 */
final class S3Connection implements AutoCloseable {
  /**
   * PUTs of at least this many bytes without a condition (chunk objects, log segments, the probe's bulk upload) go as
   * plain bodies from the start, whichever form the probe chose for the rest; once the probe is done, smaller ones
   * (a FLUSH's segment of a few KiB) too. The SDK's aws-chunked encoder (its default over http) allocates a fresh
   * array per 128 KiB piece: by hand, 605 MB of the gateway's 2 GB of garbage in a 512 MiB sequential write. A plain
   * body is read from its buffers without a copy. Conditional writes (manifests, leases, the probe's race) and the
   * probe's small PUTs keep the probed form.
   */
  static final int BULK_BYTES = 64 << 10;

  private final S3ObjectStore.Config config;
  private volatile S3Client s3;
  private volatile boolean streaming = true;
  private volatile boolean requestChecksums;
  private volatile boolean plainBodies = true;
  private volatile boolean probed;

  /** A client in the SDK's default form (aws-chunked uploads), with request checksums where S3 supports them or not. */
  S3Connection(S3ObjectStore.Config config, boolean requestChecksums) {
    this.config = config;
    this.requestChecksums = requestChecksums;
    this.s3 = S3Clients.build(config, true, requestChecksums);
  }

  S3Client client() {
    return s3;
  }

  /**
   * Whether a PUT of {@code length} bytes goes as a plain body through {@link S3DataRequests}: an unconditional one,
   * large from the start and of any size once the probe is done ({@link #probed()}: its own small PUTs test the
   * client's forms), unless the probe found plain bodies refused (then {@link #client()} sends it in the probed form).
   */
  boolean plainBody(long length, boolean conditional) {
    return !conditional && plainBodies && (probed || length >= BULK_BYTES);
  }

  /** The probe is done (or its result replayed) and the store opens: small unconditional PUTs go plain too. */
  void probed() {
    probed = true;
  }

  void useUploadForm(boolean streamingUploads, boolean checksums) {
    if (streamingUploads != streaming || checksums != requestChecksums) {
      close();
      s3 = S3Clients.build(config, streamingUploads, checksums);
      streaming = streamingUploads;
      requestChecksums = checksums;
    }
  }

  /** The probe found plain bodies refused where the chosen form works: bulk uploads use that form too. */
  void bulkAsProbed() {
    plainBodies = false;
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
  }
}
