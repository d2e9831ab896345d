// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.internal;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Config-file durations: {@code 500ms}, {@code 5s}, {@code 10m}, {@code 1h}, {@code 1d} and {@code
 * 0}.
 */
public final class Durations {
  // at most 9 digits, so even days never overflow a Duration
  private static final Pattern DURATION = Pattern.compile("([0-9]{1,9})(ms|s|m|h|d)");

  private Durations() {}

  /**
   * Parses a duration: a whole number and one unit ({@code ms}, {@code s}, {@code m}, {@code h},
   * {@code d}), or {@code 0}.
   *
   * @throws IllegalArgumentException naming the input and the expected form
   */
  public static Duration parse(String text) {
    String s = text.strip();
    if (s.equals("0")) {
      return Duration.ZERO;
    }
    Matcher m = DURATION.matcher(s);
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' is not a duration (expected a whole number and a unit,"
              + " like 500ms, 5s, 10m, 1h, 1d, or 0)");
    }
    long n = Long.parseLong(m.group(1));
    switch (m.group(2)) {
      case "ms":
        return Duration.ofMillis(n);
      case "s":
        return Duration.ofSeconds(n);
      case "m":
        return Duration.ofMinutes(n);
      case "h":
        return Duration.ofHours(n);
      default:
        return Duration.ofDays(n);
    }
  }

  /**
   * Formats a duration in the largest unit that expresses it exactly, the form {@link #parse}
   * reads.
   */
  public static String format(Duration d) {
    if (d.isZero()) {
      return "0";
    }
    if (d.isNegative() || d.toNanosPart() % 1_000_000 != 0) {
      throw new IllegalArgumentException(
          "duration " + d + " (expected whole milliseconds, not negative)");
    }
    if (d.toMillisPart() != 0) {
      return d.toMillis() + "ms";
    }
    long s = d.toSeconds();
    if (s % 86_400 == 0) {
      return s / 86_400 + "d";
    }
    if (s % 3_600 == 0) {
      return s / 3_600 + "h";
    }
    if (s % 60 == 0) {
      return s / 60 + "m";
    }
    return s + "s";
  }
}
