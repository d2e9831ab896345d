// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.config;

import java.util.Objects;

/**
 * One configuration key: its name, the type of its value and what it does. A key holds no default:
 * when a configuration does not set it, nothing is called, and the default of the builder it maps
 * onto stands. Immutable and thread-safe.
 *
 * @param <T> the type of the value
 */
public final class ConfigKey<T> {
  private final String name;
  private final ValueType<T> type;
  private final String description;

  private ConfigKey(String name, ValueType<T> type, String description) {
    this.name = Objects.requireNonNull(name, "name");
    this.type = Objects.requireNonNull(type, "type");
    this.description = Objects.requireNonNull(description, "description");
    if (name.isBlank() || !description.endsWith(".")) {
      throw new IllegalArgumentException(
          "key '" + name + "' (expected a name and a description ending in '.')");
    }
  }

  /**
   * A key named {@code name} of {@code type}; {@code description} is one sentence or two, ending in
   * a period.
   */
  public static <T> ConfigKey<T> of(String name, ValueType<T> type, String description) {
    return new ConfigKey<>(name, type, description);
  }

  /** The key, e.g. {@code dns.ttl}. */
  public String name() {
    return name;
  }

  /** The type of the value. */
  public ValueType<T> type() {
    return type;
  }

  /** What the key does. */
  public String description() {
    return description;
  }

  /**
   * Parses a value of this key; surrounding whitespace is ignored.
   *
   * @param writtenAs the key as it was written (a site key names its site), for the message
   * @throws ConfigException naming the key and the value when the value is bad
   */
  public T parse(String writtenAs, String value) {
    Objects.requireNonNull(writtenAs, "writtenAs");
    Objects.requireNonNull(value, "value");
    try {
      return type.parse(value.strip());
    } catch (ConfigException e) {
      throw e;
    } catch (IllegalArgumentException e) {
      throw new ConfigException(
          writtenAs, value, Objects.requireNonNullElse(e.getMessage(), "bad value"), e);
    }
  }

  /** Parses a value of this key, written under its own name. */
  public T parse(String value) {
    return parse(name, value);
  }

  /** Formats a value in the form {@link #parse} reads back. */
  public String format(T value) {
    return type.format(Objects.requireNonNull(value, "value"));
  }

  @Override
  public String toString() {
    return name;
  }
}
