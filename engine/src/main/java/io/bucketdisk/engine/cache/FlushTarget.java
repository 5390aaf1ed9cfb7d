package io.bucketdisk.engine.cache;

/**
 * What a FLUSH or FUA waits for: {@code buffer} stored at {@code version} or later. {@code attemptSeq} is the
 * buffer's upload attempt count when the waiter registered: an attempt started after that which fails, fails the
 * wait (so every FLUSH tries the upload at least once). Made by {@link DirtyChunks}, waited on by
 * {@link UploadScheduler#awaitDurable}.
 */
record FlushTarget(ChunkBuffer buffer, long version, long attemptSeq) {}
