// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import io.github.apnsproxy.core.ApnsHost.Environment;
import io.github.apnsproxy.core.ApnsHost.Kind;
import java.util.Locale;
import java.util.Objects;

/**
 * One APNs name form, as data: a template, the kind and the environment of the hosts it names.
 * Immutable.
 *
 * <p>Courier templates hold the placeholders {@code {n}} (the courier number, 1 to 10 digits,
 * leading zeros accepted) and {@code {courier}} (the variant: {@code courier}, {@code courier2},
 * ...), e.g. {@code {n}-{courier}.push.apple.com}. Templates of other kinds are literal names whose
 * first label is the variant, e.g. {@code init-p01st.push.apple.com}. A new Apple name form is a
 * new pattern, not new code.
 *
 * @param template the name template, lower case, no trailing dot
 * @param kind the kind of the hosts it names
 * @param environment the environment of the hosts it names
 */
public record HostPattern(String template, Kind kind, Environment environment) {
  static final String NUMBER = "{n}";
  static final String VARIANT = "{courier}";

  public HostPattern {
    Objects.requireNonNull(template, "template");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(environment, "environment");
    if (!template.equals(template.toLowerCase(Locale.ROOT))
        || template.endsWith(".")
        || template.isBlank()) {
      throw new IllegalArgumentException(
          "template '" + template + "' (expected lower case, no trailing dot)");
    }
    boolean hasN = template.contains(NUMBER);
    boolean hasV = template.contains(VARIANT);
    if (kind == Kind.COURIER) {
      if (!hasN
          || !hasV
          || template.indexOf(NUMBER) != template.lastIndexOf(NUMBER)
          || template.indexOf(VARIANT) != template.lastIndexOf(VARIANT)) {
        throw new IllegalArgumentException(
            "courier template '"
                + template
                + "' (expected {n} and {courier} once"
                + " each, like {n}-{courier}.push.apple.com)");
      }
    } else {
      if (hasN || hasV || template.contains("{") || HostNames.normalize(template).isEmpty()) {
        throw new IllegalArgumentException(
            kind + " template '" + template + "' (expected a literal host name)");
      }
      try {
        new ApnsHost(kind, environment, firstLabel(template), -1);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            kind + " template '" + template + "': " + e.getMessage(), e);
      }
    }
  }

  /**
   * For templates of kinds other than courier, the variant the name stands for: its first label.
   */
  String literalVariant() {
    return firstLabel(template);
  }

  private static String firstLabel(String name) {
    int dot = name.indexOf('.');
    return dot < 0 ? name : name.substring(0, dot);
  }
}
