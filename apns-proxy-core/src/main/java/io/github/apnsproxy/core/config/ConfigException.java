// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.config;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A configuration value that is wrong: unknown key, malformed value, or a rule between keys that
 * does not hold. The message is one line, {@code KEY = 'VALUE': what is wrong (what was expected)},
 * fit to print as is: a key or value longer than {@value #ECHO_LIMIT} characters is echoed cut to
 * that length with its length noted ({@code ...(N chars)}), also where the reason repeats it, so a
 * huge value never makes a huge line. A URL's password ({@code http://user:password@host}) is shown
 * as {@code ***}.
 */
public final class ConfigException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /** The most characters of a key or value echoed in the message. */
  public static final int ECHO_LIMIT = 100;

  private final String key;
  private final String value;

  /**
   * A bad value.
   *
   * @param key the key, e.g. {@code dns.ttl}
   * @param value the value as written, e.g. {@code 5x}
   * @param reason what is wrong and what was expected
   */
  public ConfigException(String key, String value, String reason) {
    this(key, value, reason, null);
  }

  /** A bad value, caused by {@code cause}. */
  public ConfigException(String key, String value, String reason, @Nullable Throwable cause) {
    super(
        message(
            Objects.requireNonNull(key, "key"),
            Objects.requireNonNull(value, "value"),
            Objects.requireNonNull(reason, "reason")),
        cause);
    this.key = key;
    this.value = value;
  }

  /** The key whose value is wrong. */
  public String key() {
    return key;
  }

  /** The value as written (empty when the key is missing). */
  public String value() {
    return value;
  }

  /**
   * {@code text} when it is at most {@link #ECHO_LIMIT} characters, else its start and its length.
   */
  public static String echo(String text) {
    return text.length() <= ECHO_LIMIT
        ? text
        : text.substring(0, ECHO_LIMIT) + "...(" + text.length() + " chars)";
  }

  private static String message(String key, String value, String reason) {
    String r = reason;
    if (value.length() > ECHO_LIMIT) {
      r = r.replace(value, echo(value));
      String stripped = value.strip();
      if (stripped.length() > ECHO_LIMIT) {
        r = r.replace(stripped, echo(stripped));
      }
    }
    if (key.length() > ECHO_LIMIT) {
      r = r.replace(key, echo(key));
    }
    // a reason may quote a part of the value (a list element, a file line): never more than a few
    // lines' worth
    if (r.length() > 4 * ECHO_LIMIT) {
      r = r.substring(0, 4 * ECHO_LIMIT) + "...(" + r.length() + " chars)";
    }
    return oneLine(maskPasswords(echo(key) + " = '" + echo(value) + "': " + r));
  }

  /**
   * The message never shows a password of a URL ({@code scheme://user:password@host} becomes {@code
   * scheme://user:***@host}), wherever it quotes one: a value, a duplicate's first value, a list
   * element.
   */
  private static String maskPasswords(String s) {
    return s.replaceAll("://([^:/@,\\s']*):[^@,\\s']*@", "://$1:***@");
  }

  private static String oneLine(String s) {
    return s.replaceAll("\\s*[\\r\\n]+\\s*", " ");
  }
}
