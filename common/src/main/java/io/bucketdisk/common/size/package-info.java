/** How a user writes a number of bytes: {@link io.bucketdisk.common.size.ByteSize}, a Kubernetes quantity. */
@NullMarked
package io.bucketdisk.common.size;

import org.jspecify.annotations.NullMarked;
