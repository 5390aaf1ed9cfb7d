/** How a socket is named by a user: {@link io.bucketdisk.common.net.Endpoint}, TCP or a Unix socket. */
@NullMarked
package io.bucketdisk.common.net;

import org.jspecify.annotations.NullMarked;
