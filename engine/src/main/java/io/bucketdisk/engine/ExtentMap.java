package io.bucketdisk.engine;

/**
 * The maps {@link Volume#blockStatus} can describe a range in, and the flags each one uses. None of them reads data:
 * they come from the engine's memory and the store's chunk index.
 */
public enum ExtentMap {
  /** Whether a range holds data: {@link #HOLE} | {@link #ZERO} where nothing is stored (or it was zeroed), else 0. */
  ALLOCATION,
  /** Whether a range has changes not yet stored: {@link #DIRTY}, else 0. */
  DIRTY,
  /** Which layer a range comes from: 0 reads as zeros, 1 this volume, 2 its parent (a clone's source), and so on. */
  DEPTH;

  /** {@link #ALLOCATION}: nothing is stored for the range. */
  public static final int HOLE = 1;
  /** {@link #ALLOCATION}: the range reads as zeros. */
  public static final int ZERO = 2;
  /** {@link #DIRTY}: the range has acknowledged changes not yet stored. */
  public static final int DIRTY_FLAG = 1;
}
