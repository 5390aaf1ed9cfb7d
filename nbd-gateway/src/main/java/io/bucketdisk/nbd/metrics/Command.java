package io.bucketdisk.nbd.metrics;

/** The NBD commands an export sees, as tag values (NBD spec "Request types", lower case without the prefix). */
enum Command {
  READ("read"),
  WRITE("write"),
  FLUSH("flush"),
  TRIM("trim"),
  WRITE_ZEROES("write_zeroes"),
  CACHE("cache"),
  BLOCK_STATUS("block_status");

  final String tag;

  Command(String tag) {
    this.tag = tag;
  }
}
