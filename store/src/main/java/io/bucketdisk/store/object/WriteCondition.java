package io.bucketdisk.store.object;

import org.jspecify.annotations.Nullable;

/**
 * The precondition of a PUT: none, {@code If-None-Match: *} (create only) or {@code If-Match: <etag>} (replace only
 * that version). The layout builds every manifest and lease change on these.
 */
public record WriteCondition(@Nullable String matchEtag, boolean createOnly) {
  private static final WriteCondition NONE = new WriteCondition(null, false);
  private static final WriteCondition CREATE = new WriteCondition(null, true);

  public WriteCondition {
    if (matchEtag != null && createOnly) {
      throw new IllegalArgumentException("If-Match and If-None-Match together");
    }
  }

  /** Unconditional. */
  public static WriteCondition none() {
    return NONE;
  }

  /** Only when the key does not exist yet. */
  public static WriteCondition ifNoneMatch() {
    return CREATE;
  }

  /** Only when the key's current ETag is {@code etag}. */
  public static WriteCondition ifMatch(String etag) {
    return new WriteCondition(etag, false);
  }

  public boolean isConditional() {
    return matchEtag != null || createOnly;
  }
}
