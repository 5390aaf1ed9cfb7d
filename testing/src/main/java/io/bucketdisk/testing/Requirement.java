package io.bucketdisk.testing;

import java.util.Optional;
import org.junit.jupiter.api.Assumptions;

/**
 * What a test does when something it needs (a tool, the VM kernel, a JDK feature) is missing.
 *
 * <p>On a developer's machine it skips, with the reason. Under {@code scripts/test.sh} ({@code
 * BUCKETDISK_TEST_STRICT=1}) it fails: that script ran {@code scripts/setup.sh}, so a missing requirement is a broken
 * install that a skip would hide. The only skips CI accepts are for what these machines really lack (a Docker
 * engine); those use {@link #skipBecauseAbsentHere}.
 */
public final class Requirement {
  /** The environment variable {@code scripts/test.sh} sets. */
  public static final String STRICT = "BUCKETDISK_TEST_STRICT";

  private Requirement() {}

  /** Passes when {@code met}; otherwise skips (or fails under {@code scripts/test.sh}) saying {@code what}. */
  public static void require(boolean met, String what) {
    if (met) {
      return;
    }
    if (strict()) {
      throw new AssertionError(what + " (" + STRICT + "=1: scripts/setup.sh should have provided it, so this test "
          + "fails instead of skipping)");
    }
    Assumptions.abort(what);
  }

  /** Passes when {@code missing} is empty; otherwise as {@link #require(boolean, String)} with its reason. */
  public static void require(Optional<String> missing) {
    missing.ifPresent(reason -> require(false, reason));
  }

  /**
   * Skips, even under {@code scripts/test.sh}, for something no machine of this project's CI has (no Docker
   * engine). The reason must say what is absent; {@code scripts/test.sh} lists every skip and accepts only these.
   */
  public static void skipBecauseAbsentHere(boolean absent, String reason) {
    Assumptions.assumeFalse(absent, reason);
  }

  static boolean strict() {
    return "1".equals(System.getenv(STRICT));
  }
}
