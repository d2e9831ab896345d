// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.config;

/**
 * How the text of one configuration value becomes a typed value and back. Immutable and
 * thread-safe.
 *
 * @param <T> the value's type
 */
public interface ValueType<T> {
  /**
   * Parses a value (surrounding whitespace already stripped).
   *
   * @throws IllegalArgumentException saying what is wrong and what was expected
   */
  T parse(String text);

  /** Formats a value in the form {@link #parse} reads back. */
  String format(T value);
}
