// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A configuration value that is wrong: unknown key, malformed value, or a rule between keys that does not hold. The
 * message is one line, {@code KEY = 'VALUE': what is wrong (what was expected)}, fit to print as is.
 */
public final class ConfigException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

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
    super(oneLine(Objects.requireNonNull(key, "key") + " = '" + Objects.requireNonNull(value, "value") + "': "
        + Objects.requireNonNull(reason, "reason")), cause);
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

  private static String oneLine(String s) {
    return s.replaceAll("\\s*[\\r\\n]+\\s*", " ");
  }
}
