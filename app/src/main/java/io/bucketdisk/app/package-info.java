/**
 * The single {@code bucketdisk} executable. {@link io.bucketdisk.app.Main} parses the command line with
 * picocli and hands each subcommand to the module that owns it; user errors (bad flags, bad URLs, missing
 * kernel support) are printed as one line naming the fix, never as a stack trace.
 */
@NullMarked
package io.bucketdisk.app;

import org.jspecify.annotations.NullMarked;
