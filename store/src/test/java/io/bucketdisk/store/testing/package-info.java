/**
 * Reusable test fixtures, shipped in the store test-jar for the other modules: {@link
 * io.bucketdisk.store.testing.S3ProxyFixture} (an embedded s3proxy on loopback) and {@link
 * io.bucketdisk.store.testing.FaultyS3Proxy} (a loopback HTTP proxy that injects S3 failures). A module using them
 * needs {@code org.gaul:s3proxy} and {@code jakarta.servlet:jakarta.servlet-api} in test scope next to the test-jar.
 */
@NullMarked
package io.bucketdisk.store.testing;

import org.jspecify.annotations.NullMarked;
