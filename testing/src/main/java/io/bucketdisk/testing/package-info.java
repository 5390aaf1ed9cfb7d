/**
 * Fixtures for the tests of every module. {@link io.bucketdisk.testing.Requirement} is the one place that decides
 * what a test does when something it needs is missing: skip with the reason on a developer's machine, fail under
 * {@code scripts/test.sh} (which sets {@code BUCKETDISK_TEST_STRICT=1}), where {@code scripts/setup.sh} installed
 * everything and a missing tool means a broken install, not a reason to skip.
 */
@NullMarked
package io.bucketdisk.testing;

import org.jspecify.annotations.NullMarked;
