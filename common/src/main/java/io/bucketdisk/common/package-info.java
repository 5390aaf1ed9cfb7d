/**
 * Value types shared by every module, one package per concept: a byte size as a user writes it, an endpoint as a
 * user writes it. Each has one parser and one error text, so a flag, a StorageClass parameter and a CLI argument
 * accept the same grammar everywhere.
 */
@NullMarked
package io.bucketdisk.common;

import org.jspecify.annotations.NullMarked;
