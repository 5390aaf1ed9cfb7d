package io.bucketdisk.controller;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.zip.CRC32;
import org.jspecify.annotations.Nullable;

/**
 * The opaque {@code next_token}/{@code starting_token} of ListVolumes and ListSnapshots: the store's own continuation
 * token, tagged with what it lists and a CRC-32, in URL-safe Base64. Anything this controller did not issue (wrong
 * tag, bad encoding, bad checksum) is {@link VolumeError.Reason#BAD_TOKEN}, which the spec wants as ABORTED.
 */
final class PageToken {

  private PageToken() {}

  static String wrap(String kind, String storeToken) {
    String body = kind + "\n" + storeToken;
    return Base64.getUrlEncoder().withoutPadding()
        .encodeToString((body + "\n" + crc(body)).getBytes(StandardCharsets.UTF_8));
  }

  /** The store token inside {@code token}, or null for an empty token (start of the listing). */
  static @Nullable String unwrap(String kind, String token) {
    if (token.isEmpty()) {
      return null;
    }
    String text;
    try {
      text = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw bad(token);
    }
    int last = text.lastIndexOf('\n');
    int first = text.indexOf('\n');
    if (first < 0 || last <= first) {
      throw bad(token);
    }
    String body = text.substring(0, last);
    if (!text.substring(last + 1).equals(crc(body)) || !text.substring(0, first).equals(kind)) {
      throw bad(token);
    }
    return text.substring(first + 1, last);
  }

  private static String crc(String body) {
    var crc = new CRC32();
    crc.update(body.getBytes(StandardCharsets.UTF_8));
    return Long.toHexString(crc.getValue());
  }

  private static VolumeError bad(String token) {
    String shown = token.length() > 40 ? token.substring(0, 40) + "..." : token;
    return new VolumeError(VolumeError.Reason.BAD_TOKEN, "starting_token '" + shown
        + "' was not issued by this plugin; restart the listing with an empty token");
  }
}
