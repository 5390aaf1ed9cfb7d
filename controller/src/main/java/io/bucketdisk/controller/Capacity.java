package io.bucketdisk.controller;

/**
 * The size rules of CreateVolume and ControllerExpandVolume (spec.md §CapacityRange): {@code required_bytes} is a
 * floor, {@code limit_bytes} a ceiling, 0 means unset, negatives are invalid. Sizes are rounded up to {@link
 * #GRANULARITY} (the block size the kernel and NBD clients use) but never past the limit; a request that cannot be
 * met is {@link VolumeError.Reason#OUT_OF_RANGE}. An aligned exact request ({@code required == limit}) yields exactly
 * that size. Pure and thread safe.
 */
public final class Capacity {

  /** Every volume size is a multiple of this: 4 KiB. */
  public static final long GRANULARITY = 4096;
  /** Size of a volume created without a capacity range: 1 GiB. */
  public static final long DEFAULT_SIZE = 1L << 30;
  /** Largest volume: 64 TiB. */
  public static final long MAX_SIZE = 64L << 40;

  private Capacity() {}

  /**
   * The size to create for {@code [required, limit]}, at least {@code minimum} (the source's size for a clone or
   * restore; 0 otherwise). With neither bound set: the larger of {@link #DEFAULT_SIZE} and {@code minimum}.
   */
  public static long forCreate(long required, long limit, long minimum) {
    check(required, limit);
    if (required == 0 && limit == 0) {
      return Math.max(DEFAULT_SIZE, roundUp(minimum));
    }
    long floor = Math.max(required, minimum);
    if (floor == 0) {
      // Only a limit: the default size if it fits, else the largest aligned size under the limit.
      long size = Math.min(DEFAULT_SIZE, limit - limit % GRANULARITY);
      if (size <= 0) {
        throw outOfRange("limit_bytes " + limit + " is below the smallest volume (" + GRANULARITY + " bytes)");
      }
      return size;
    }
    long size = roundUp(floor);
    if (limit != 0 && size > limit) {
      if (minimum > limit) {
        throw outOfRange("limit_bytes " + limit + " is smaller than the source (" + minimum + " bytes)");
      }
      throw outOfRange("no multiple of " + GRANULARITY + " bytes lies in [" + required + ", " + limit + "]");
    }
    if (size > MAX_SIZE) {
      throw outOfRange("requested " + floor + " bytes; the largest volume is " + MAX_SIZE + " bytes (64 TiB)");
    }
    return size;
  }

  /** The size to grow to for ControllerExpandVolume; a range with neither bound set is invalid. */
  public static long forExpand(long required, long limit) {
    check(required, limit);
    if (required == 0 && limit == 0) {
      throw VolumeError.invalid("capacity_range needs required_bytes or limit_bytes");
    }
    return forCreate(required == 0 ? limit : required, limit, 0);
  }

  /** True when an existing size satisfies the range (used for idempotent CreateVolume). */
  public static boolean satisfies(long size, long required, long limit) {
    return size >= required && (limit == 0 || size <= limit);
  }

  static long roundUp(long bytes) {
    if (bytes <= 0) {
      return 0;
    }
    long rem = bytes % GRANULARITY;
    return rem == 0 ? bytes : Math.addExact(bytes, GRANULARITY - rem);
  }

  private static void check(long required, long limit) {
    if (required < 0 || limit < 0) {
      throw VolumeError.invalid("capacity_range must not be negative (required_bytes " + required
          + ", limit_bytes " + limit + ")");
    }
    if (limit != 0 && required > limit) {
      throw VolumeError.invalid("capacity_range required_bytes " + required + " exceeds limit_bytes " + limit);
    }
  }

  private static VolumeError outOfRange(String message) {
    return new VolumeError(VolumeError.Reason.OUT_OF_RANGE, message);
  }
}
